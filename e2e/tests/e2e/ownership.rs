//! One owner per connector on Kafka Connect. A claim on a connector name is the Connect endpoint's, whatever
//! KafkaConnectCluster object (or URL spelling) a KafkaConnector goes through: the webhook denies a second
//! claim, and where it never saw one (a namespace it does not serve) the oldest KafkaConnector writes and the
//! other reports NameConflict until the winner goes. A writer the controller cannot see (a script, another
//! controller) is not fought: after a few corrections the controller holds its writes and says so
//! (Contended), and writes again once Connect stays quiet.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use connect_warden_e2e::connectors::{
    T, connect_log, count, delete_connector, events, get, ready, scrape, shared_namespace,
    wait_reason, wait_running,
};
use connect_warden_e2e::objects::{cluster, file_sink};
use connect_warden_e2e::prom::{self, CONTROLLER_JOB, ScrapeTarget};
use connect_warden_e2e::*;
use stack::warden::PRIVATE_LABEL;

use crate::controller::{private_cluster, private_controller, private_setup};

/// The main worker's URL as another team would spell it: scheme in capitals, a trailing slash.
fn other_spelling(url: &str) -> String {
    format!("{}/", url.replacen("http://", "HTTP://", 1))
}

/// The URL as the claim compares it (scheme and host in lower case, default port dropped, trailing slash).
fn endpoint(url: &str) -> String {
    format!("{}/", url.trim_end_matches('/'))
}

/// PUTs of `name`'s config in the main worker's request log.
fn config_puts(name: &str) -> usize {
    count(&connect_log(), &format!("\"PUT /connectors/{name}/config "))
}

/// Waits until the controller polled Connect `n` more times, so that any write it planned has gone out.
async fn polls_later(n: usize) {
    let poll = "\"GET /connectors?expand=status&expand=info ";
    let start = count(&connect_log(), poll);
    eventually("more polls of Connect", T, || async {
        let now = count(&connect_log(), poll);
        (now >= start + n)
            .then_some(())
            .ok_or(format!("{} polls", now - start))
    })
    .await;
}

async fn file_on_connect(name: &str) -> Option<String> {
    settled!(connect().get_config(name))
        .ok()
        .and_then(|c| c.get("file").cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connect_endpoint_is_one_claim_space_whichever_cluster_object_names_it() {
    let url = &kafka_env().connect_url;
    let first_ns = shared_namespace("own-first");
    let shared_name = unique("cw-owned");
    let dir = scratch("own-claims");
    let winner = unique("cw-winner");
    let winner_file = dir.join("winner.txt").display().to_string();
    file_sink(&first_ns, &winner, "own-t", &winner_file)
        .connect_name(&shared_name)
        .apply()
        .expect_ok();
    wait_running(&first_ns, &winner, "1/1").await;

    // Another team, its own KafkaConnectCluster for the same Connect (spelled differently): denied.
    let second_ns = namespace("own-second", &[]);
    cluster(&second_ns, "alias", &other_spelling(url))
        .apply()
        .expect_ok();
    let denied = file_sink(
        &second_ns,
        "second",
        "own-t",
        dir.join("second.txt").display(),
    )
    .on("alias")
    .connect_name(&shared_name)
    .apply()
    .expect_err();
    assert!(
        denied.stderr.contains(&format!(
            "connector name \"{shared_name}\" on KafkaConnectCluster {second_ns}/alias is already claimed by \
             KafkaConnector {first_ns}/{winner} through KafkaConnectCluster {first_ns}/main, which points at \
             the same Kafka Connect ({})",
            endpoint(url)
        )),
        "{}",
        denied.stderr
    );

    // Where the webhook does not serve, the second claim is admitted; the controller lets the oldest write.
    let unserved = namespace("own-unserved", &[(PRIVATE_LABEL, unique("own").as_str())]);
    cluster(&unserved, "main", &other_spelling(url))
        .apply()
        .expect_ok();
    let loser = unique("cw-loser");
    let loser_file = dir.join("loser.txt").display().to_string();
    let puts = config_puts(&shared_name);
    file_sink(&unserved, &loser, "own-t", &loser_file)
        .connect_name(&shared_name)
        .apply()
        .expect_ok();
    let k = wait_reason(&unserved, &loser, "False", "NameConflict").await;
    assert_eq!(
        ready(&k).2,
        format!(
            "connector \"{shared_name}\" on cluster {unserved}/main is already managed by KafkaConnector \
             {first_ns}/{winner} through KafkaConnectCluster {first_ns}/main at the same Kafka Connect ({})",
            endpoint(url)
        )
    );
    // Writes from one owner only: nothing sent while the loser waits, and the winner's config stands.
    polls_later(4).await;
    assert_eq!(config_puts(&shared_name), puts, "a config was sent");
    assert_eq!(file_on_connect(&shared_name).await, Some(winner_file));
    let k = get(&first_ns, &winner).await.unwrap();
    assert_eq!(ready(&k).1, "Running");

    // The winner goes (deleting its connector): the other takes the name over and creates its own.
    delete_connector(&first_ns, &winner);
    wait_running(&unserved, &loser, "1/1").await;
    assert_eq!(file_on_connect(&shared_name).await, Some(loser_file));
    delete_connector(&unserved, &loser);
}

/// A script that writes the connector's config on Connect every 2 s, as another tool would.
struct Rewriter {
    stop: Arc<AtomicBool>,
    puts: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Rewriter {
    fn start(
        name: &str,
        mut config: BTreeMap<String, String>,
        dir: std::path::PathBuf,
    ) -> Rewriter {
        let stop = Arc::new(AtomicBool::new(false));
        let puts = Arc::new(AtomicUsize::new(0));
        let (s, p, name) = (stop.clone(), puts.clone(), name.to_string());
        let task = tokio::spawn(async move {
            // The script's own pace: a write every 2 s.
            let mut every = tokio::time::interval(Duration::from_secs(2));
            let mut i = 0;
            while !s.load(Ordering::SeqCst) {
                every.tick().await;
                i += 1;
                config.insert(
                    "file".into(),
                    dir.join(format!("script-{i}.txt")).display().to_string(),
                );
                if settled!(connect().put_config(&name, &config)).is_ok() {
                    p.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Rewriter { stop, puts, task }
    }

    async fn stop(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap();
        self.puts.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_rewriting_the_config_is_contended_not_fought_and_left_once_it_stops() {
    prom::start_receiver();
    let (ns, id) = private_setup("own-script");
    // A quiet period well above a controller restart, which the test does while the script writes.
    let limits = [
        "--contention-corrections",
        "3",
        "--contention-quiet-seconds",
        "20",
    ];
    let mut ctl = private_controller(&id, &limits);
    let target = ScrapeTarget::add(CONTROLLER_JOB, &ns, prom::host_port(&ctl.metrics_url()));
    private_cluster(&ns, &id);
    let dir = scratch("own-script");
    let name = unique("cw-scripted");
    let ours = dir.join("ours.txt").display().to_string();
    file_sink(&ns, &name, "own-script-t", &ours)
        .label(PRIVATE_LABEL, &id)
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;
    let mut theirs = settled!(connect().get_config(&name)).unwrap();
    theirs.insert("batch.size".into(), "7".into());
    let before = config_puts(&name);

    let started = Instant::now();
    let script = Rewriter::start(&name, theirs, dir.clone());
    let k = wait_reason(&ns, &name, "False", "Contended").await;
    eprintln!("Contended after {}", prom::since(started));
    assert_eq!(
        ready(&k).2,
        format!(
            "another writer keeps changing connector \"{name}\" on Kafka Connect (keys: batch.size, file): its \
             config was put back 3 times within 10m, so the controller leaves it alone; it writes again once \
             the config stays unchanged for 20s, or at once when the spec changes"
        )
    );
    let held = k.status.clone().unwrap().contention.unwrap();
    assert_eq!(held.corrections.len(), 3, "{held:?}");
    assert!(held.held_since.is_some(), "{held:?}");
    assert_eq!(held.keys, ["batch.size", "file"]);
    eventually("a Contended warning", T, || async {
        let ev = events(&ns, &name);
        ev.contains("Contended").then_some(()).ok_or(ev)
    })
    .await;
    let series = format!(
        "connect_warden_connector_contended{{cluster=\"{ns}/main\",name=\"{name}\",namespace=\"{ns}\"}} 1"
    );
    assert!(scrape(&ctl.metrics_url()).await.contains(&series));
    let labels = [
        ("namespace", ns.as_str()),
        ("name", name.as_str()),
        ("cluster", &format!("{ns}/main")),
    ];
    let firing = prom::wait_notified("ConnectWardenConnectorContended", "firing", &labels, T).await;
    assert_eq!(firing.labels["severity"], "warning");

    // The controller restarts (a new leader would do the same): the judgement is in status, so the new
    // process stays out of the way too, while the script goes on.
    tokio::task::block_in_place(|| ctl.stop());
    let ctl = private_controller(&id, &limits);
    let target = (
        target,
        ScrapeTarget::add(CONTROLLER_JOB, &ns, prom::host_port(&ctl.metrics_url())),
    );
    polls_later(6).await;
    let k = get(&ns, &name).await.unwrap();
    assert_eq!(ready(&k).1, "Contended");
    let script_puts = script.stop().await;
    let corrections = config_puts(&name) - before - script_puts;
    assert!(
        corrections <= 3,
        "{corrections} corrective PUTs besides the script's {script_puts}"
    );

    // Quiet for 20 s: the controller writes its config again.
    let stopped = Instant::now();
    wait_running(&ns, &name, "1/1").await;
    eprintln!("resumed {} after the script stopped", prom::since(stopped));
    assert_eq!(file_on_connect(&name).await, Some(ours));
    let k = get(&ns, &name).await.unwrap();
    let record = k.status.unwrap().contention.unwrap_or_default();
    assert_eq!(record.held_since, None, "{record:?}");
    eventually("a ContentionEnded event", T, || async {
        let ev = events(&ns, &name);
        ev.contains("ContentionEnded").then_some(()).ok_or(ev)
    })
    .await;
    prom::wait_notified("ConnectWardenConnectorContended", "resolved", &labels, T).await;
    delete_connector(&ns, &name);
    drop(target);
    drop(ctl);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_with_overlapping_selectors_stop_fighting() {
    // The namespace is one the shared webhook does not serve, so both KafkaConnectors are admitted.
    let (ns, id) = private_setup("own-overlap");
    let side = "connectwarden.io/e2e-side";
    let selector = |s: &str| format!("{PRIVATE_LABEL}={id},{side} in ({s},both)");
    let limits = [
        "--contention-corrections",
        "3",
        "--contention-quiet-seconds",
        "600",
    ];
    let start = |s: &str| {
        let sel = selector(s);
        let mut args = vec![
            "--label-selector",
            sel.as_str(),
            "--poll-interval-seconds",
            "1",
        ];
        args.extend_from_slice(&limits);
        start_controller("controller-overlap", &args)
    };
    let (a, b) = (start("a"), start("b"));
    // Both controllers see the cluster.
    cluster(&ns, "main", &kafka_env().connect_url)
        .label(PRIVATE_LABEL, &id)
        .label(side, "both")
        .apply()
        .expect_ok();
    let dir = scratch("own-overlap");
    let shared_name = unique("cw-overlap");
    let before = config_puts(&shared_name);
    for s in ["a", "b"] {
        file_sink(
            &ns,
            &format!("side-{s}"),
            "own-overlap-t",
            dir.join(format!("{s}.txt")).display(),
        )
        .label(PRIVATE_LABEL, &id)
        .label(side, s)
        .connect_name(&shared_name)
        .apply()
        .expect_ok();
    }
    let contended = eventually("one side Contended", T, || async {
        let mut out = Vec::new();
        for s in ["side-a", "side-b"] {
            if let Some(k) = get(&ns, s).await
                && ready(&k).1 == "Contended"
            {
                out.push(s);
            }
        }
        (!out.is_empty())
            .then_some(out)
            .ok_or("neither".to_string())
    })
    .await;
    eprintln!("contended: {contended:?}");
    // The fight is over: no more config writes, from either.
    polls_later(3).await;
    let settled_puts = config_puts(&shared_name);
    polls_later(6).await;
    assert_eq!(config_puts(&shared_name), settled_puts, "the fight goes on");
    // Each side corrected at most 3 times, besides the one update of the side that came second.
    assert!(
        settled_puts - before <= 7,
        "{} config PUTs",
        settled_puts - before
    );
    for s in ["side-a", "side-b"] {
        delete_connector(&ns, s);
    }
    drop((a, b));
}
