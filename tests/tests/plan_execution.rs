//! Compiled validators enforce what the spec says, in the request direction.

use serde_json::{Value, json};
use specgate_runtime::Engine;
use specgate_runtime::engine::SchemaValidator;
use specgate_runtime::engine::document::{Document, DocumentJson};

fn engine(spec: &str) -> Engine {
    let path = specgate_tests::repo_root().join(spec);
    let compiled = specgate_compiler::compile_file(&path).unwrap_or_else(|e| panic!("{}", e[0]));
    Engine::load(&compiled.plan).unwrap_or_else(|e| panic!("{e}"))
}

/// An operation's JSON body validator, fed as the sidecar feeds it: the body's text read in place.
struct BodyValidator<'e>(&'e SchemaValidator<DocumentJson>);

impl BodyValidator<'_> {
    fn check<T>(
        &self,
        body: &Value,
        f: impl FnOnce(&SchemaValidator<DocumentJson>, &Document<'_>) -> T,
    ) -> T {
        let text = body.to_string();
        let document = Document::parse(text.as_bytes(), 64, true).expect("valid JSON");
        f(self.0, &document)
    }

    fn is_valid(&self, body: &Value) -> bool {
        self.check(body, |v, d| v.is_valid(d))
    }

    fn failures(&self, body: &Value) -> Vec<(String, String)> {
        self.check(body, |v, d| v.failures(d))
    }
}

fn body_validator<'e>(engine: &'e Engine, id: &str) -> BodyValidator<'e> {
    let op = engine
        .operations()
        .iter()
        .find(|o| o.operation.id == id)
        .unwrap_or_else(|| panic!("operation {id}"));
    BodyValidator(
        op.bodies
            .iter()
            .find(|(m, _)| m == "application/json")
            .and_then(|(_, v)| v.as_ref())
            .expect("a JSON body validator"),
    )
}

#[test]
fn read_only_properties_and_undeclared_properties_are_refused_in_requests() {
    let engine = engine("specs/petstore-3.0.yaml");
    let create = body_validator(&engine, "createPet");
    let valid =
        json!({"petType": "dog", "name": "Rex", "birthDate": "2020-01-01", "breed": "collie"});
    let errors = create.failures(&valid);
    assert!(create.is_valid(&valid), "{errors:?}");
    let mut with_id = valid.clone();
    with_id["id"] = json!(42);
    assert!(!create.is_valid(&with_id), "readOnly id is refused");
    let mut extra = valid.clone();
    extra["isAdmin"] = json!(true);
    assert!(!create.is_valid(&extra), "mass assignment is refused");
    let mut unknown_kind = valid.clone();
    unknown_kind["petType"] = json!("dragon");
    assert!(
        !create.is_valid(&unknown_kind),
        "the discriminator must select a known branch"
    );
    let mut bad_date = valid;
    bad_date["birthDate"] = json!("2020-13-45");
    assert!(!create.is_valid(&bad_date), "formats are validated");
}

#[test]
fn recursive_schemas_validate_at_any_depth() {
    let engine = engine("specs/petstore-3.0.yaml");
    let replace = body_validator(&engine, "replaceCategoryTree");
    let leaf = json!({"name": "leaf"});
    let tree = json!({"name": "root", "children": [{"name": "a", "children": [leaf]}]});
    assert!(replace.is_valid(&tree), "{:?}", replace.failures(&tree));
    let bad = json!({"name": "root", "children": [{"name": "a", "children": [{"name": 7}]}]});
    assert!(!replace.is_valid(&bad));
}

#[test]
fn routes_prefer_literal_segments_and_report_allowed_methods() {
    use specgate_plan::HttpMethod;
    use specgate_runtime::engine::RouteMatch;
    let engine = engine("specs/petstore-3.0.yaml");
    let RouteMatch::Found { operation, params } = engine.route(HttpMethod::Get, "/v1/pets/search")
    else {
        panic!("found")
    };
    assert_eq!(engine.operations()[operation].operation.id, "searchPets");
    assert!(params.is_empty());
    let RouteMatch::Found { operation, params } = engine.route(HttpMethod::Get, "/v1/pets/123")
    else {
        panic!("found")
    };
    assert_eq!(engine.operations()[operation].operation.id, "getPet");
    assert_eq!(params, vec![("petId", "123")]);
    assert!(matches!(
        engine.route(HttpMethod::Patch, "/v1/pets/123"),
        RouteMatch::MethodNotAllowed { .. }
    ));
    // Paths are served under the servers' base path (`https://api.petstore.example.com/v1`) only.
    assert_eq!(
        engine.route(HttpMethod::Get, "/pets/123"),
        RouteMatch::NotFound
    );
    assert_eq!(
        engine.route(HttpMethod::Get, "/v10/pets/123"),
        RouteMatch::NotFound
    );
    assert_eq!(
        engine.route(HttpMethod::Get, "/nowhere"),
        RouteMatch::NotFound
    );
}
