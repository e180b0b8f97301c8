-- SPIFFE federation: one row per foreign trust domain, with the last good bundle fetched from it
-- (kept across outages and restarts). Portable: H2 2.x and PostgreSQL 15.
create table federations (
    trust_domain       varchar(255) primary key,
    endpoint_url       varchar(2048) not null,
    profile            varchar(16) not null,
    endpoint_spiffe_id varchar(2048),
    bundle_json        varchar, -- the SPIFFE bundle document as fetched; null before the first
    bundle_sequence    bigint not null,
    bundle_fetched_at  timestamp with time zone,
    created_at         timestamp with time zone not null
);
