-- Offline root, rotating intermediate (issue 13): the next intermediate's key is made in custody and
-- waits here with its CSR until the operator imports the certificate an offline root signed for it.
-- Only then does it become a ca_keys row (PREPARED), so the rotation schedule never sees a key
-- without a certificate.
create table ca_pending_keys (
    id             varchar(128) primary key,
    custody_key_id varchar(128) not null,
    csr_pem        varchar(16000) not null,
    created_at     timestamp with time zone not null
);
