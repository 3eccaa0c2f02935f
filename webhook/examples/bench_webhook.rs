//! `make bench-webhook`: the webhook's speed on the real local stack (a running `cw-stack`, found through
//! `$CW_STACK_ENV`). Starts its own webhook from `$CW_BIN_DIR` (use a release build), registers it for a
//! private namespace, and prints:
//! - the admission pipeline alone (`admission::review` in this process, objects and Connect's answer in
//!   memory): p50/p99;
//! - the local path (no Connect call: a spec-unchanged UPDATE, and a validation-cache hit): p50/p99 and
//!   reviews/s over HTTPS keep-alive on loopback;
//! - the Connect path: the webhook's added latency over calling the same validate endpoint directly, side by
//!   side in one run;
//! - GitOps re-sync: how many Connect validate calls 100 identical `kubectl apply --dry-run=server` cause;
//! - KafkaConnectorPolicies: the local path again with 10 and 100 matching policies (against 0 above), the
//!   evaluation alone without the decision memo (in process), and compiling a 100-rule schema.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::connect::{ClientSettings, ConnectClient};
use stack::warden;
use webhook::FailurePolicy;
use webhook::admission::{self, Objects, Webhook};
use webhook::testing::{self, FixedConnect, Review, block_on};

const WARMUP: usize = 200;
const LATENCY_SAMPLES: usize = 5_000;
const THROUGHPUT_REVIEWS: usize = 40_000;
const CONCURRENCY: usize = 8;
const CONNECT_SAMPLES: usize = 200;
const DRY_RUNS: usize = 100;
const COMPILES: usize = 50;
const EVALUATIONS: usize = 2_000;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn review(op: &'static str, object: &Value, old: Option<&Value>, uid: usize) -> Vec<u8> {
    Review::new(op, Some(object.clone()), old.cloned())
        .uid(format!("bench-{uid}"))
        .user("bench")
        .body()
}

fn connector(ns: &str, name: &str, topic: &str) -> Value {
    let mut c = testing::connector(
        ns,
        name,
        json!({
            "clusterRef": {"name": "local"},
            "class": "FileStreamSource",
            "tasksMax": 1,
            "config": {"topic": topic, "file": "/tmp/bench.txt"}
        }),
    );
    c["metadata"]["labels"] = json!({"app": "bench"});
    c
}

struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    async fn send(&self, body: Vec<u8>) -> Result<Value, Error> {
        let resp = self
            .http
            .post(format!("{}/validate", self.url))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let v: Value = resp.json().await?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {v}").into());
        }
        Ok(v)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// p50/p99 over one keep-alive connection, then reviews/s with `CONCURRENCY` connections.
async fn local_path(client: Arc<Client>, label: &str, body: Vec<u8>) -> Result<(), Error> {
    for _ in 0..WARMUP {
        client.send(body.clone()).await?;
    }
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let t = Instant::now();
        let v = client.send(body.clone()).await?;
        samples.push(t.elapsed());
        assert_eq!(v["response"]["allowed"], true, "{v}");
    }
    samples.sort();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let client = client.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..THROUGHPUT_REVIEWS / CONCURRENCY {
                client.send(body.clone()).await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let rate = THROUGHPUT_REVIEWS as f64 / started.elapsed().as_secs_f64();
    println!(
        "  {label:<34} p50 {}  p99 {}  ({} sequential)   {rate:.0} reviews/s ({CONCURRENCY} connections, {THROUGHPUT_REVIEWS} reviews)",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        LATENCY_SAMPLES
    );
    Ok(())
}

/// The admission pipeline alone, in this process: `admission::review` of `body` with the cluster in memory
/// and Kafka Connect answering at once. What the HTTPS numbers add to it is transport and the server.
fn in_process(ns: &str, label: &str, body: &[u8]) -> Result<(), Error> {
    let mut objects = Objects::default();
    objects.add_cluster(serde_json::from_value(testing::cluster(
        ns,
        "local",
        json!({"url": "http://127.0.0.1:8083"}),
    ))?);
    let connect = FixedConnect::new(testing::validated(
        &[("topic", "STRING"), ("file", "STRING")],
        &[],
    ));
    let run = || {
        block_on(admission::review(
            Webhook::Validate,
            body,
            &objects,
            &connect,
            FailurePolicy::Closed,
        ))
    };
    for _ in 0..WARMUP {
        run()?;
    }
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let t = Instant::now();
        let r = run()?;
        samples.push(t.elapsed());
        assert!(r.decision.allowed, "{:?}", r.decision);
    }
    samples.sort();
    println!(
        "  {label:<34} p50 {}  p99 {}  ({} sequential)",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99)),
        LATENCY_SAMPLES
    );
    Ok(())
}

async fn metric_sum(metrics_url: &str, name: &str) -> Result<f64, Error> {
    let text = reqwest::get(format!("{metrics_url}/metrics"))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// The i-th of `n` bench policies: rules a platform team writes (a task cap, a name prefix, allowed classes,
/// a required key, a transforms allow-list), all satisfied by the bench connectors. The last one alone
/// refuses `config.probe` other than `ok`, so a probe shows when the webhook has every policy.
fn policy_json(i: usize, n: usize, selector: (&str, &str)) -> Value {
    let mut config = json!({
        "required": ["topic"],
        "properties": {"topic": {"maxLength": 200}},
        "patternProperties": {"^transforms\\.[^.]+\\.type$": {"enum": [
            "org.apache.kafka.connect.transforms.InsertField$Value",
            "org.apache.kafka.connect.transforms.TimestampRouter"]}}
    });
    if i + 1 == n {
        config["properties"]["probe"] = json!({"const": "ok"});
    }
    json!({
        "apiVersion": "connectwarden.io/v1alpha1",
        "kind": "KafkaConnectorPolicy",
        "metadata": {"name": format!("bench-policy-{i:03}")},
        "spec": {
            "match": {"namespaceSelector": {"matchLabels": {selector.0: selector.1}}},
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

/// Applies `n` bench policies (deleting any others) and waits until the webhook enforces the last one.
async fn set_policies(
    kube: &stack::kube::KubeEnv,
    client: &Client,
    n: usize,
    selector: (&str, &str),
    probe: &Value,
) -> Result<(), Error> {
    warden::kubectl(
        kube,
        &["delete", "kafkaconnectorpolicies", "--all", "--wait=true"],
        None,
    )?;
    if n == 0 {
        return Ok(());
    }
    let docs: Vec<String> = (0..n)
        .map(|i| serde_json::to_string(&policy_json(i, n, selector)).unwrap())
        .collect();
    warden::kubectl(kube, &["apply", "-f", "-"], Some(&docs.join("\n---\n")))?;
    let body = review("CREATE", probe, None, 0);
    let want = format!("policy bench-policy-{:03}: spec.config.\"probe\"", n - 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = client.send(body.clone()).await?;
        if v["response"]["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&want))
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the webhook does not enforce {n} policies: {v}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Policy evaluation alone, in process and without the decision memo: `n` compiled bench policies against
/// one connector view; and the compilation of a 100-rule schema.
fn policy_costs(ns: &str) -> Result<(), Error> {
    use shared::policy::{
        ConnectorView, Context, KafkaConnectorPolicy, compile, compile_schema, evaluate,
    };
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
                let p: KafkaConnectorPolicy =
                    serde_json::from_value(policy_json(i, n, ("k", "v")))?;
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

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::tls::install_crypto_provider();
    let env = stack::StackEnv::from_env()?;
    let kube = env
        .kube
        .clone()
        .ok_or("the stack runs without Kubernetes")?;
    let kafka = env.kafka.clone().ok_or("the stack runs without Kafka")?;
    let dir = env
        .dir
        .join("bench")
        .join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // Our own webhook, for a namespace only it serves.
    let label = format!("bench-{}", std::process::id());
    // Under the webhook's own ServiceAccount, as the tests run it: the shipped RBAC first.
    warden::install_rbac(&kube)?;
    let mut hook = warden::start_webhook(&dir, &kube, "bench-webhook", &["--log-level", "warn"])?;
    let config_name = format!("cw-bench-{}", std::process::id());
    hook.register(&kube, &config_name, Some(&label))?;
    let ns = format!("bench-{}", std::process::id());
    warden::kubectl(
        &kube,
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{{}: \"{label}\"}}\n---\n\
             apiVersion: connectwarden.io/v1alpha1\nkind: KafkaConnectCluster\nmetadata: {{name: local, namespace: {ns}}}\n\
             spec: {{url: \"{}\"}}\n",
            warden::PRIVATE_LABEL,
            kafka.connect_url
        )),
    )?;

    let http = reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only([reqwest::Certificate::from_pem(hook.ca_pem.as_bytes())?])
        .http1_only()
        .pool_max_idle_per_host(CONCURRENCY * 2)
        .tcp_nodelay(true)
        .build()?;
    let client = Arc::new(Client {
        http,
        url: hook.url(),
    });
    let metrics_url = hook.metrics_url();
    let calls = || {
        metric_sum(
            &metrics_url,
            "connect_warden_webhook_connect_validate_duration_seconds_count",
        )
    };

    // The webhook's cluster cache must have the cluster before the cache-hit path is meaningful.
    let first = connector(&ns, "bench-hit", "bench-hit");
    let hit_body = review("CREATE", &first, None, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = client.send(hit_body.clone()).await?;
        if v["response"]["allowed"] == true {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the bench connector is not admitted: {v}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    println!(
        "connect-warden webhook benchmark (HTTPS keep-alive on loopback, {} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("in process (no HTTP, no Kafka Connect call):");
    in_process(&ns, "admission::review (CREATE)", &hit_body)?;
    println!("local path (no Kafka Connect call):");
    let mut relabelled = first.clone();
    relabelled["metadata"]["labels"]["app"] = json!("bench-2");
    let mut probe = first.clone();
    probe["spec"]["config"]["probe"] = json!("x");
    for n in [0, 10, 100] {
        set_policies(&kube, &client, n, (warden::PRIVATE_LABEL, &label), &probe).await?;
        println!(" with {n} matching KafkaConnectorPolicies:");
        local_path(
            client.clone(),
            "spec-unchanged UPDATE",
            review("UPDATE", &relabelled, Some(&first), 1),
        )
        .await?;
        let before = calls().await?;
        local_path(
            client.clone(),
            "validation-cache hit (CREATE)",
            hit_body.clone(),
        )
        .await?;
        let after = calls().await?;
        println!(
            "  (Connect validate calls during the cache-hit runs: {})",
            after - before
        );
    }
    set_policies(&kube, &client, 0, (warden::PRIVATE_LABEL, &label), &probe).await?;
    println!("KafkaConnectorPolicies in process (no HTTP):");
    policy_costs(&ns)?;

    // Connect path: each sample a config never seen before, so every review misses the cache.
    let direct = ConnectClient::new(&ClientSettings::new(kafka.connect_url.clone()))?;
    let mut via_webhook = Vec::new();
    let mut straight = Vec::new();
    for i in 0..CONNECT_SAMPLES + 20 {
        let topic = format!("bench-{}-{i}", std::process::id());
        let obj = connector(&ns, "bench-miss", &topic);
        let flat = shared::config::effective_config(
            "bench-miss",
            "FileStreamSource",
            Some(1),
            &[("topic", topic.as_str()), ("file", "/tmp/bench-direct.txt")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        );
        let t = Instant::now();
        direct.validate("FileStreamSource", &flat).await?;
        let d = t.elapsed();
        let t = Instant::now();
        let v = client.send(review("CREATE", &obj, None, i)).await?;
        let w = t.elapsed();
        assert_eq!(v["response"]["allowed"], true, "{v}");
        if i >= 20 {
            straight.push(d);
            via_webhook.push(w);
        }
    }
    straight.sort();
    via_webhook.sort();
    let (d50, w50) = (percentile(&straight, 0.5), percentile(&via_webhook, 0.5));
    println!("Connect path ({CONNECT_SAMPLES} cache misses, interleaved with direct calls):");
    println!(
        "  direct PUT …/config/validate      p50 {}  p99 {}",
        ms(d50),
        ms(percentile(&straight, 0.99))
    );
    println!(
        "  through the webhook               p50 {}  p99 {}",
        ms(w50),
        ms(percentile(&via_webhook, 0.99))
    );
    println!(
        "  added by the webhook at the median: {}",
        ms(w50.saturating_sub(d50))
    );

    // GitOps re-sync: 100 identical server-side dry-runs, 10 at a time.
    let yaml = format!(
        "apiVersion: connectwarden.io/v1alpha1\nkind: KafkaConnector\nmetadata: {{name: resync, namespace: {ns}}}\n\
         spec:\n  clusterRef: {{name: local}}\n  class: FileStreamSource\n  tasksMax: 1\n  config:\n    topic: resync-{}\n    file: /tmp/resync.txt\n    batch.size: 100\n",
        std::process::id()
    );
    let before = calls().await?;
    let started = Instant::now();
    let yaml = Arc::new(yaml);
    for _ in 0..DRY_RUNS / 10 {
        let mut batch = Vec::new();
        for _ in 0..10 {
            let (kube, yaml) = (kube.clone(), yaml.clone());
            batch.push(tokio::task::spawn_blocking(move || {
                warden::kubectl(
                    &kube,
                    &["apply", "--dry-run=server", "-f", "-"],
                    Some(&yaml),
                )
            }));
        }
        for b in batch {
            b.await??;
        }
    }
    let after = calls().await?;
    println!(
        "GitOps re-sync: {DRY_RUNS} identical `kubectl apply --dry-run=server` ({:.1}s) → {} Kafka Connect validate call(s)",
        started.elapsed().as_secs_f64(),
        after - before
    );

    for kind in [
        "mutatingwebhookconfiguration",
        "validatingwebhookconfiguration",
    ] {
        let _ = warden::kubectl(
            &kube,
            &["delete", kind, &config_name, "--ignore-not-found"],
            None,
        );
    }
    let _ = warden::kubectl(&kube, &["delete", "namespace", &ns, "--wait=false"], None);
    hook.stop();
    Ok(())
}
