-- expect_error(stmt): run a statement and show its error as data: SQLSTATE (code),
-- message, DETAIL and HINT ('none' when it succeeds). The exception block also rolls
-- back whatever the statement did. Included once per database: by extension.sql for
-- the shared regression database (by include/fixtures.sql when a file runs alone), and
-- by each test that makes a database of its own.
CREATE FUNCTION expect_error(stmt text, OUT code text, OUT message text,
                             OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  code := 'none';
  message := 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END $$;
GRANT EXECUTE ON FUNCTION expect_error(text) TO PUBLIC;
