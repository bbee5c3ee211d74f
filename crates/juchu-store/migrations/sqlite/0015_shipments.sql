-- 出荷: an order's packages once it has more than one plain package (分納,
-- 個数口, another carrier), as JSON owned by the order row (the pipeline
-- writes it with the order); NULL: the order's own fields are its one package.
ALTER TABLE orders ADD COLUMN shipments TEXT;

-- The file an import job works from (出荷実績インポート, 入金消込), as decoded
-- text; deleted with the job's other rows when its 保存期間 ends.
CREATE TABLE job_inputs (
    job_id BIGINT PRIMARY KEY,
    content TEXT NOT NULL
);

-- 出荷実績インポート formats a shop defines: which header means what (like
-- CSV管理), kept as the layout's JSON.
CREATE TABLE shipment_import_formats (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    layout_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
