-- The organisation's pricing over the bundled catalogue (server/src/pricing/overrides.rs).
--
-- Name rules: a model name as clients send it (pattern, '*' any run of characters, case
-- ignored) -> the catalogue model it is (e.g. an Azure deployment name -> gpt-4o); tried in
-- id order.
CREATE TABLE price_rules (
  id INTEGER PRIMARY KEY,
  pattern TEXT NOT NULL,
  model TEXT NOT NULL
);

-- Discounts off the catalogue's list price for one provider's models or one model, in
-- basis points (1500 = 15 %), from a date; a model's own discount wins over its provider's.
CREATE TABLE price_discounts (
  id INTEGER PRIMARY KEY,
  scope TEXT NOT NULL CHECK (scope IN ('provider', 'model')),
  name TEXT NOT NULL,
  basis_points INTEGER NOT NULL CHECK (basis_points > 0 AND basis_points <= 10000),
  effective_from_ms INTEGER NOT NULL
);

-- Catalogues imported by an admin (`prices import FILE`): the newest row is in force; a row
-- without a body goes back to the catalogue bundled in the binary.
CREATE TABLE price_catalogues (
  id INTEGER PRIMARY KEY,
  imported_at_ms INTEGER NOT NULL,
  body TEXT
);
