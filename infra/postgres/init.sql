-- Docker compose only (the local stack provisions the same through trellis_infra.postgres):
-- one schema and one login role per service, each with rights on its own schema alone.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE trellis FROM PUBLIC;
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['profiles', 'matching', 'sessions', 'notifications'] LOOP
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', s, s || '-dev');
    EXECUTE format('GRANT CONNECT ON DATABASE trellis TO %I', s);
    EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', s, s);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', s);
    EXECUTE format('ALTER ROLE %I SET search_path = %I', s, s);
  END LOOP;
END $$;
