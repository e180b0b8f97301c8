-- PostgreSQL only: every committed change to keys, contracts, policies or revocations notifies
-- the channel lanyard_changes with the table's name, so every replica LISTENing reloads at once
-- (H2 has no LISTEN; replicas there poll). A notification is sent at commit, never for a rollback.
create function lanyard_notify_change() returns trigger language plpgsql as $$
begin
    perform pg_notify('lanyard_changes', tg_table_name);
    return null;
end
$$;

create trigger signing_keys_changed after insert or update or delete on signing_keys
    for each statement execute function lanyard_notify_change();
create trigger ca_keys_changed after insert or update or delete on ca_keys
    for each statement execute function lanyard_notify_change();
create trigger contract_sets_changed after insert or update or delete on contract_sets
    for each statement execute function lanyard_notify_change();
create trigger policies_changed after insert or update or delete on policies
    for each statement execute function lanyard_notify_change();
create trigger revocation_events_changed after insert on revocation_events
    for each statement execute function lanyard_notify_change();
