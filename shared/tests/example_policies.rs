//! The example policies in deploy/examples/policies compile, and each says what it is for.

use shared::crd::KafkaConnectorPolicy;
use shared::policy::{compile, warnings};

#[test]
fn example_policies_compile() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/policies");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# "),
            "{}: say what the rule is for",
            path.display()
        );
        let p: KafkaConnectorPolicy =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(e) = compile(&p) {
            panic!("{}: {e:?}", path.display());
        }
        assert!(warnings(&p.spec).is_empty(), "{}", path.display());
        names.push(p.metadata.name.unwrap());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "allowed-classes",
            "max-tasks",
            "sink-dead-letter-queue",
            "team-a-names",
            "transforms-allow-list"
        ]
    );
}

#[test]
fn the_compilers_message_for_a_wrong_keyword_value() {
    let p: KafkaConnectorPolicy = serde_saphyr::from_str(
        "apiVersion: connectwarden.io/v1alpha1\nkind: KafkaConnectorPolicy\nmetadata:\n  name: p\nspec:\n  schema:\n    properties:\n      tasksMax:\n        maximum: \"8\"\n",
    )
    .unwrap();
    assert_eq!(
        compile(&p).unwrap_err(),
        ["spec.schema.properties.tasksMax.maximum: \"8\" is not of type \"number\""]
    );
}
