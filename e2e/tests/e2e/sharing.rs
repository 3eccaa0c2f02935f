//! Endpoint sharing on the real stack: KafkaConnectClusters in different namespaces that name the same
//! Connect URL with the same settings share one client and one poller. A private controller of the test's
//! own counts them alone (the shared one also polls the main worker, for other tests' clusters): its
//! metrics must show one list request per poll for all of them, each poll counted for every cluster, while
//! every cluster is Ready and the connector in each namespace is reconciled.

use connect_warden_e2e::connectors::*;
use connect_warden_e2e::objects::{cluster, file_sink};
use connect_warden_e2e::*;
use stack::warden::PRIVATE_LABEL;

const LIST_PATH: &str = "/connectors?expand=status&expand=info";
/// Polls in the measured window.
const WINDOW_POLLS: f64 = 5.0;

/// Polls counted for `cluster` on a metrics page.
fn polls(m: &str, cluster: &str) -> f64 {
    total(
        m,
        "connect_warden_cluster_polls_total",
        &[("cluster", cluster)],
    )
}

/// A metrics page scraped just after a poll of `cluster` was counted, so no poll is half counted in it
/// (its list request counted, the poll not yet for every cluster of the endpoint): taken once two scrapes
/// in a row show the same counts. The next poll starts no sooner than 1 s after this one, and only after
/// the interval (3 s) when no write asks for an early one.
async fn after_a_poll(url: &str, cluster: &str) -> String {
    let seen = polls(&scrape(url).await, cluster);
    eventually(&format!("a poll of {cluster}"), T, || async {
        if polls(&scrape(url).await, cluster) > seen {
            Ok(())
        } else {
            Err(format!("{seen} polls"))
        }
    })
    .await;
    eventually(&format!("the poll of {cluster} counted"), T, || async {
        let (a, b) = (scrape(url).await, scrape(url).await);
        if counts(&a) == counts(&b) {
            Ok(b)
        } else {
            Err("still counting".to_string())
        }
    })
    .await
}

/// The poll and request counts on a metrics page.
fn counts(m: &str) -> Vec<&str> {
    m.lines()
        .filter(|l| {
            l.starts_with("connect_warden_cluster_polls_total")
                || l.starts_with("connect_warden_connect_requests_total")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_in_three_namespaces_with_one_url_share_one_list_request_per_poll() {
    let id = unique("share");
    let selector = format!("{PRIVATE_LABEL}={id}");
    let ctl = start_controller(
        "controller-share",
        &[
            "--label-selector",
            &selector,
            "--poll-interval-seconds",
            "3",
        ],
    );
    let url = kafka_env().connect_url.clone();
    let namespaces: Vec<String> = (0..3)
        .map(|_| namespace("share", &[(PRIVATE_LABEL, id.as_str())]))
        .collect();
    let mut sinks = Vec::new();
    for ns in &namespaces {
        cluster(ns, "main", &url)
            .label(PRIVATE_LABEL, &id)
            .apply()
            .expect_ok();
        let name = unique("cw-share");
        let file = scratch("share").join("out.txt");
        file_sink(ns, &name, "share-t", file.display())
            .label(PRIVATE_LABEL, &id)
            .apply()
            .expect_ok();
        sinks.push((ns.clone(), name));
    }

    // Each namespace's connector is reconciled: running on Connect, Ready in its status.
    for (ns, name) in &sinks {
        wait_running(ns, name, "1/1").await;
    }
    // Each cluster is Ready and counts its own connector.
    for ns in &namespaces {
        eventually(&format!("{ns}/main Ready"), T, || async {
            let st = get_cluster(ns, "main").await.status.unwrap_or_default();
            let r = cluster_ready(&st);
            let shown = (
                r.status.as_str(),
                r.reason.as_deref(),
                st.managed_connectors,
            );
            (shown == ("True", Some("Reachable"), Some(1)))
                .then_some(())
                .ok_or(format!("{shown:?}: {:?}", r.message))
        })
        .await;
    }

    // Over a window of polls: one list request per poll for the three clusters together, and each poll
    // counted for every one of them.
    let labels: Vec<String> = namespaces.iter().map(|ns| format!("{ns}/main")).collect();
    let metrics = ctl.metrics_url();
    let lists = |m: &str| -> f64 {
        labels
            .iter()
            .map(|c| {
                total(
                    m,
                    "connect_warden_connect_requests_total",
                    &[("cluster", c), ("path", LIST_PATH)],
                )
            })
            .sum()
    };
    let before = after_a_poll(&metrics, &labels[0]).await;
    let mut after = before.clone();
    while polls(&after, &labels[0]) - polls(&before, &labels[0]) < WINDOW_POLLS {
        after = after_a_poll(&metrics, &labels[0]).await;
    }
    let n = polls(&after, &labels[0]) - polls(&before, &labels[0]);
    assert_eq!(
        lists(&after) - lists(&before),
        n,
        "list requests to {url} over {n} polls"
    );
    for c in &labels[1..] {
        assert_eq!(
            polls(&after, c) - polls(&before, c),
            n,
            "polls counted for {c} while {} was polled {n} times",
            labels[0]
        );
    }

    for (ns, name) in &sinks {
        delete_connector(ns, name);
    }
}
