-- 自動化設定 conditions (payment method, carrier, label, needs-attention), all of
-- which must hold for the rule to fire.
ALTER TABLE automation_rules ADD COLUMN conditions_json TEXT NOT NULL DEFAULT '[]';
