//! Upgrades without a stop: from migration 0021 on, a migration only expands
//! the schema (docs/operations.md), so old serves and workers keep running
//! while it applies. This reads every migration of both stores and refuses
//! the statements that would break the version before: dropping, renaming or
//! retyping, and a NOT NULL column added without a default.

const EXPAND_ONLY_FROM: u32 = 21;

fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(|s| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_uppercase()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Why a statement would break processes of the version before, if it would.
fn contracting(stmt: &str) -> Option<&'static str> {
    if stmt.starts_with("DROP ") && !stmt.starts_with("DROP INDEX") {
        return Some("drops a table or view the old version uses");
    }
    if stmt.contains(" RENAME ") {
        return Some("renames what the old version names");
    }
    if stmt.starts_with("ALTER TABLE") {
        if stmt.contains(" DROP COLUMN") || stmt.contains(" DROP CONSTRAINT") {
            return Some("drops a column or constraint the old version uses");
        }
        if stmt.contains(" TYPE ") {
            return Some("changes a column's type");
        }
        if stmt.contains(" SET NOT NULL") {
            return Some("makes a column NOT NULL that old code may leave empty");
        }
        if stmt.contains(" ADD COLUMN") && stmt.contains("NOT NULL") && !stmt.contains("DEFAULT") {
            return Some("adds a NOT NULL column without a default: old INSERTs fail");
        }
    }
    if stmt.starts_with("UPDATE ") || stmt.starts_with("DELETE ") {
        return Some("rewrites data old processes may be writing at the same time");
    }
    None
}

#[test]
fn migrations_from_0021_only_expand() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut checked = 0;
    for dialect in ["sqlite", "postgres"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dialect))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            let number: u32 = name[..4].parse().unwrap();
            if number < EXPAND_ONLY_FROM {
                continue;
            }
            checked += 1;
            for stmt in statements(&std::fs::read_to_string(&f).unwrap()) {
                if let Some(why) = contracting(&stmt) {
                    panic!("{dialect}/{name}: {why}: {stmt}");
                }
            }
        }
    }
    assert!(checked >= 2, "0021 of both stores was read");
}

#[test]
fn the_check_catches_what_breaks_old_processes() {
    for bad in [
        "DROP TABLE orders",
        "ALTER TABLE orders DROP COLUMN memo",
        "ALTER TABLE orders RENAME COLUMN memo TO note",
        "ALTER TABLE orders ALTER COLUMN total TYPE TEXT",
        "ALTER TABLE orders ADD COLUMN x TEXT NOT NULL",
        "ALTER TABLE orders ALTER COLUMN memo SET NOT NULL",
        "UPDATE orders SET memo = ''",
    ] {
        let s = statements(bad);
        assert!(contracting(&s[0]).is_some(), "{bad}");
    }
    for fine in [
        "CREATE TABLE x (id BIGINT)",
        "ALTER TABLE orders ADD COLUMN x TEXT",
        "ALTER TABLE orders ADD COLUMN x TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX orders_x ON orders (x)",
        "DROP INDEX orders_x",
    ] {
        let s = statements(fine);
        assert!(contracting(&s[0]).is_none(), "{fine}");
    }
}
