-- Single-use admin console login links: only the SHA-256 of the link's secret is kept.
create table console_login_links (
    secret_hash  varchar(64) primary key,
    admin_id     varchar(2048) not null,
    admin_serial varchar(64) not null,
    created_at   timestamp with time zone not null,
    expires_at   timestamp with time zone not null,
    used_at      timestamp with time zone
);
create index console_login_links_expires_at on console_login_links (expires_at);
