//! The public API as one document: any change to a path, a parameter or a
//! shape shows up as a change of the snapshot in review
//! (`cargo insta review`, or `INSTA_UPDATE=always` then read the diff).

#[test]
fn the_openapi_document_is_what_we_reviewed() {
    let doc = juchu_web::openapi::openapi();
    insta::assert_json_snapshot!("openapi", doc);
}

/// A schema made of `allOf` parts cannot have a part that forbids other
/// properties: every answer carrying the other parts' fields would fail it
/// (`CsvFormatJson` and `DocumentFormatJson` did: `id` next to a body that
/// refuses unknown fields).
#[test]
fn no_combined_schema_has_a_part_that_refuses_the_rest() {
    let doc = serde_json::to_value(juchu_web::openapi::openapi()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let strict = |name: &str| schemas[name]["additionalProperties"] == serde_json::json!(false);
    let mut bad = vec![];
    for (name, s) in schemas {
        for part in s["allOf"].as_array().into_iter().flatten() {
            let inline_strict = part["additionalProperties"] == serde_json::json!(false);
            let ref_strict = part["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .is_some_and(strict);
            if inline_strict || ref_strict {
                bad.push(name.clone());
            }
        }
    }
    assert!(bad.is_empty(), "schemas whose answers fail them: {bad:?}");
}
