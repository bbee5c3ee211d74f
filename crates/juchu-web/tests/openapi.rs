//! The public API as one document: any change to a path, a parameter or a
//! shape shows up as a change of the snapshot in review
//! (`cargo insta review`, or `INSTA_UPDATE=always` then read the diff).

#[test]
fn the_openapi_document_is_what_we_reviewed() {
    let doc = juchu_web::openapi::openapi();
    insta::assert_json_snapshot!("openapi", doc);
}
