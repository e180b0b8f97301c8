-- A console session ends no later than the admin certificate its login link was made with. Links live a
-- minute: any minted before this column existed are dropped rather than given a guessed end.
delete from console_login_links;
alter table console_login_links add column admin_not_after timestamp with time zone;
