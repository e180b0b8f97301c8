-- Tokens minted, so that revoking an identity revokes each of its live tokens by jti: a token then
-- stays revoked when the identity is reinstated, as its certificates do. Pruned once expired.
create table minted_tokens (
    jti        varchar(64) primary key,
    spiffe_id  varchar(2048) not null,
    expires_at timestamp with time zone not null
);
create index minted_tokens_spiffe_id on minted_tokens (spiffe_id, expires_at);
