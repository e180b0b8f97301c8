-- Leases: one replica at a time takes a named step (key rotation, creating the CA). The token
-- grows each time a lease changes hands; fenced writes check it in their own transaction.
-- Portable: H2 2.x and PostgreSQL.
create table leases (
    name       varchar(64) primary key,
    holder     varchar(256) not null,
    token      bigint not null,
    expires_at timestamp with time zone not null
);
