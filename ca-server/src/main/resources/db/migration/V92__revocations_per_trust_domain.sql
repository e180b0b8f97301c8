-- A federated trust domain's certificate and token revocations are its own (issue 14 review): held per
-- (trust domain, target), so one peer listing a serial or jti neither blocks nor replaces another
-- peer's revocation of the same value. '' is this server's own. SQLite cannot change a primary key,
-- so the table is rebuilt (the same statements on H2, SQLite and PostgreSQL).
create table revocations_per_domain (
    trust_domain  varchar(255) not null,
    target_kind   varchar(16) not null,
    target        varchar(2048) not null,
    sequence      bigint not null,
    primary key (trust_domain, target_kind, target)
);
insert into revocations_per_domain (trust_domain, target_kind, target, sequence)
    select e.trust_domain, r.target_kind, r.target, r.sequence
    from revocations r join revocation_events e on e.sequence = r.sequence;
drop table revocations;
alter table revocations_per_domain rename to revocations;
