-- Revocation: an append-only event log with gapless sequences, the revocations in force, and the
-- CRL numbers per issuing CA. Portable SQL: H2 2.x and PostgreSQL 15.

-- One row: the last sequence handed out. Taken under a row lock ("for update") by every writer,
-- so sequences have no gaps and commit in order, also with several replicas on one database.
create table revocation_head (
    id            int primary key,
    last_sequence bigint not null
);
insert into revocation_head (id, last_sequence) values (1, 0);

-- Every revocation and reinstatement, in order; watchers resume from a sequence in here.
create table revocation_events (
    sequence      bigint primary key,
    event_kind    varchar(16) not null,   -- REVOKED or REINSTATED
    target_kind   varchar(16) not null,   -- SERIAL, SPIFFE_ID or JTI
    target        varchar(2048) not null,
    spiffe_id     varchar(2048) not null, -- the certificate's identity for a serial; the identity itself; '' for a jti
    issuer_key_id varchar(128) not null,  -- the CA that issued a revoked serial; '' otherwise
    reason        int not null,           -- RFC 5280 CRLReason code
    note          varchar(1024) not null,
    actor         varchar(2048) not null,
    occurred_at   timestamp with time zone not null,
    expires_at    timestamp with time zone -- when it stops mattering; null for identities
);

-- What is revoked now: one row per target, removed on reinstatement or once expired.
create table revocations (
    target_kind   varchar(16) not null,
    target        varchar(2048) not null,
    sequence      bigint not null,
    primary key (target_kind, target)
);

-- The last CRL number used per issuing CA (RFC 5280: monotonically increasing per issuer).
create table crl_numbers (
    issuer_key_id varchar(128) primary key,
    last_number   bigint not null
);
