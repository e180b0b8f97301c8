-- The spiffe_sequence of this server's own bundle (replica review): every replica serves the same
-- sequence for the same roots and JWT keys, or a federated peer that polls them behind one address
-- sees the sequence go back and refuses the bundle. One row: the content it numbers (a digest) and
-- its sequence, moved only by a replica whose keys changed; written first by the first server to
-- publish (an empty store stays empty, as a restore wants it).
create table bundle_sequence (
    id           int primary key,
    content_key  varchar(64) not null,
    sequence     bigint not null
);
