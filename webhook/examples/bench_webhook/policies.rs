//! KafkaConnectorPolicies for the bench: the policies, their namespaces, and their costs in process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stack::warden;

use crate::figures::{ms, percentile, us};
use crate::https::Client;
use crate::{Error, connector};

const COMPILES: usize = 50;
const EVALUATIONS: usize = 2_000;

/// A bench policy: rules a platform team writes (a task cap, a name prefix, allowed classes, a required key,
/// a transforms allow-list), all satisfied by the bench connectors, for the namespaces `namespace_selector`
/// selects. With `probe`, it also refuses `config.probe` other than `ok`, so a probe shows when the
/// webhook has it.
pub(crate) fn policy_json(i: usize, namespace_selector: Value, probe: bool) -> Value {
    let mut config = json!({
        "required": ["topic"],
        "properties": {"topic": {"maxLength": 200}},
        "patternProperties": {"^transforms\\.[^.]+\\.type$": {"enum": [
            "org.apache.kafka.connect.transforms.InsertField$Value",
            "org.apache.kafka.connect.transforms.TimestampRouter"]}}
    });
    if probe {
        config["properties"]["probe"] = json!({"const": "ok"});
    }
    json!({
        "apiVersion": "connectwarden.io/v1alpha1",
        "kind": "KafkaConnectorPolicy",
        "metadata": {"name": format!("bench-policy-{i:03}")},
        "spec": {
            "match": {"namespaceSelector": namespace_selector},
            "action": "Deny",
            "schema": {"properties": {
                "tasksMax": {"maximum": 8},
                "name": {"pattern": "^bench-"},
                "class": {"enum": ["FileStreamSource", "FileStreamSink"]},
                "config": config
            }},
            "message": "bench rule {policy}"
        }
    })
}

/// The label saying how many bench policies select a namespace.
pub(crate) const TIER_LABEL: &str = "bench.connectwarden.io/policies";

/// A namespace served by the bench webhook alone (`label`), selected by `policies` bench policies, with a
/// KafkaConnectCluster `local`.
pub(crate) fn namespace_yaml(ns: &str, label: &str, policies: usize, connect_url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{{}: \"{label}\", {TIER_LABEL}: \"{policies}\"}}\n---\n\
         apiVersion: connectwarden.io/v1alpha1\nkind: KafkaConnectCluster\nmetadata: {{name: local, namespace: {ns}}}\n\
         spec: {{url: \"{connect_url}\"}}\n",
        warden::PRIVATE_LABEL,
    )
}

/// Waits until each `(probe review, text)` is denied with `text` in its message.
pub(crate) async fn wait_enforced(
    client: &Client,
    probes: &[(Vec<u8>, String)],
) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for (body, want) in probes {
        loop {
            let v = client.send(body.clone()).await?;
            if v["response"]["status"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(want.as_str()))
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the webhook does not enforce the bench policies: {v}").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// Policy evaluation alone, in process and without the decision memo: `n` compiled bench policies against
/// one connector view; and the compilation of a 100-rule schema.
pub(crate) fn policy_costs(ns: &str) -> Result<(), Error> {
    use shared::crd::KafkaConnectorPolicy;
    use shared::policy::{ConnectorView, Context, PolicySet, compile, compile_schema, evaluate};
    let connector: shared::crd::KafkaConnector =
        serde_json::from_value(connector(ns, "bench-eval", "bench-eval"))?;
    let view = ConnectorView::of(&connector, None);
    let labels = std::collections::BTreeMap::from([("k".to_string(), "v".to_string())]);
    let cx = Context {
        namespace_labels: Some(&labels),
        cluster: None,
    };
    for n in [1, 10, 100] {
        let compiled: Vec<Arc<shared::policy::Compiled>> = (0..n)
            .map(|i| {
                let p: KafkaConnectorPolicy = serde_json::from_value(policy_json(
                    i,
                    json!({"matchLabels": {"k": "v"}}),
                    i + 1 == n,
                ))?;
                compile(&p)
                    .map(Arc::new)
                    .map_err(|e| Error::from(e.join("; ")))
            })
            .collect::<Result<_, Error>>()?;
        let mut samples = Vec::with_capacity(EVALUATIONS);
        for _ in 0..EVALUATIONS {
            let t = Instant::now();
            let e = evaluate(&compiled, &view, cx);
            samples.push(t.elapsed());
            assert!(e.violations.is_empty(), "{e:?}");
            assert_eq!(e.matched.len(), n);
        }
        samples.sort();
        println!(
            "  evaluate {n:>3} matching policies (no memo) p50 {}  p99 {}  ({EVALUATIONS} evaluations)",
            us(percentile(&samples, 0.5)),
            us(percentile(&samples, 0.99))
        );
        // What admission does per review: the connector's view, then the memo (a repeat is a hit).
        let set = PolicySet::new(compiled, Default::default());
        set.evaluate_connector(&connector, cx);
        let mut samples = Vec::with_capacity(EVALUATIONS);
        for _ in 0..EVALUATIONS {
            let t = Instant::now();
            let e = set.evaluate_connector(&connector, cx);
            samples.push(t.elapsed());
            assert_eq!(e.matched.len(), n);
        }
        samples.sort();
        println!(
            "  evaluate {n:>3} matching policies (memo hit) p50 {}  p99 {}  ({EVALUATIONS} evaluations)",
            us(percentile(&samples, 0.5)),
            us(percentile(&samples, 0.99))
        );
    }
    // 100 rules over config keys, of the kinds policies use.
    let mut props = serde_json::Map::new();
    for i in 0..100 {
        let rule = match i % 4 {
            0 => json!({"pattern": format!("^[a-z0-9.-]{{1,{}}}$", 50 + i)}),
            1 => json!({"enum": [format!("v{i}"), "all", "none"]}),
            2 => json!({"maxLength": 100 + i}),
            _ => json!({"not": {"const": format!("forbidden-{i}")}}),
        };
        props.insert(format!("key.{i}"), rule);
    }
    let schema = json!({"properties": {"config": {"properties": props}}});
    let mut samples = Vec::with_capacity(COMPILES);
    for _ in 0..COMPILES {
        let t = Instant::now();
        compile_schema(&schema)?;
        samples.push(t.elapsed());
    }
    samples.sort();
    println!(
        "  compile a 100-rule schema              p50 {}  p99 {}  ({COMPILES} compilations; once per policy generation)",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99))
    );
    Ok(())
}
