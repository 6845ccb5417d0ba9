-- Budgets and metric alert rules scoped to one dimension value (issue 30), e.g. a budget of
-- team=search or a rule on customer=acme: `scope_dim` names the dimension as the API does
-- (`user`, `key`, `provider`, `meta.<key>`), `scope_value` the value compared as text.
-- Both NULL: no dimension scope (every budget and rule made before).
ALTER TABLE budgets ADD COLUMN scope_dim TEXT;
ALTER TABLE budgets ADD COLUMN scope_value TEXT;
ALTER TABLE alert_rules ADD COLUMN scope_dim TEXT;
ALTER TABLE alert_rules ADD COLUMN scope_value TEXT;
