-- The audit trail becomes a hash chain: every record carries the hash of the one before it, and
-- ids are handed out without gaps from a one-row head taken under a row lock (so the chain never
-- forks, also with several replicas on one PostgreSQL). Records written before this migration are
-- chained, in id order, by the server on its first start (JdbcAuditLog.chainUnchained).
alter table audit_events add column previous_hash varchar(64);
alter table audit_events add column hash varchar(64);

create table audit_head (
    id        int primary key,
    last_id   bigint not null,
    last_hash varchar(64) not null
);
insert into audit_head (id, last_id, last_hash)
    values (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
