//! Restarts: automatic with backoff until exhausted, manual requests handled once, unreadable requests
//! refused once, and no restart twice across a leader handover.

use super::*;

#[tokio::test]
async fn failed_task_is_restarted_with_backoff_until_exhausted_then_manually() {
    let ns = shared_namespace("ctl-restart");
    let name = unique("cw-restart");
    let dir = scratch("ctl-restart").join("missing");
    let file = dir.join("out.txt");
    file_sink(&ns, &name, "restart-t", file.display())
        .restarts(3, 3)
        .apply()
        .expect_ok();

    // Each restart is recorded in status; the gaps grow.
    let mut times = Vec::new();
    for n in 1..=3u32 {
        let k = eventually(&format!("restart {n}"), T, || async {
            let k = get(&ns, &name).await.ok_or("gone")?;
            let count = k
                .status
                .as_ref()
                .and_then(|s| s.auto_restart.as_ref())
                .map_or(0, |a| a.count);
            if count >= n {
                Ok(k)
            } else {
                Err(format!("count {count}: {:?}", ready(&k)))
            }
        })
        .await;
        let a = k.status.unwrap().auto_restart.unwrap();
        assert_eq!(
            a.count, n,
            "no restart may be skipped in observation at 250 ms"
        );
        let t: k8s_openapi::jiff::Timestamp =
            a.last_restart_time.as_deref().unwrap().parse().unwrap();
        times.push(t.as_second());
    }
    // Backoff base 3 s: the second restart comes at least 3 s after the first, the third at least 6 s after
    // the second (times have second resolution, hence one less). Only lower bounds: a loaded machine makes
    // restarts late, never early.
    let gap1 = times[1] - times[0];
    let gap2 = times[2] - times[1];
    assert!(gap1 >= 2 && gap2 >= 5, "gaps {gap1}s then {gap2}s");

    let k = wait_reason(&ns, &name, "False", "RestartsExhausted").await;
    assert!(ready(&k).2.contains("gave up after 3"), "{:?}", ready(&k));
    let st = k.status.unwrap();
    assert_eq!(st.tasks_ready.as_deref(), Some("0/1"));
    assert!(
        st.tasks[0]
            .trace
            .as_deref()
            .unwrap_or("")
            .contains("out.txt")
    );
    let ev = events(&ns, &name);
    assert!(
        ev.contains("RestartsExhausted") && ev.contains("Restarted"),
        "{ev}"
    );
    // Each restart has its own event, whose text says which one it was, and no event claims a count its
    // text does not tell.
    let restarted: Vec<_> = event_list(&ns, &name)
        .into_iter()
        .filter(|e| e.0 == "Restarted")
        .collect();
    for n in 1..=3 {
        let text =
            format!("restarted the failed connector and tasks of {name:?} (automatic restart {n})");
        let hits: Vec<_> = restarted.iter().filter(|e| e.1 == text).collect();
        assert_eq!(hits.len(), 1, "{text:?} in {restarted:#?}");
        assert_eq!(hits[0].2, 1, "{text:?} happened once: {restarted:#?}");
    }
    assert_eq!(restarted.len(), 3, "{restarted:#?}");

    let m = scrape(&shared_metrics_url()).await;
    let cn = [("namespace", ns.as_str()), ("name", name.as_str())];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut l = cn.to_vec();
        l.extend_from_slice(extra);
        l
    };
    assert_eq!(
        sample(
            &m,
            "connect_warden_connector_restarts_total",
            &with(&[("target", "task"), ("trigger", "automatic")])
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &m,
            "connect_warden_connector_tasks",
            &with(&[("state", "FAILED")])
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &m,
            "connect_warden_connector_state",
            &with(&[("state", "RUNNING")])
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&m, "connect_warden_connector_uptime_seconds", &cn),
        Some(0.0)
    );

    // The directory appears; a manual restart brings it back. The request stays in place (GitOps would put
    // it back anyway); status records it as handled.
    std::fs::create_dir_all(&dir).unwrap();
    annotate_connector(
        &ns,
        &name,
        "connectwarden.io/restart=includeTasks,onlyFailed",
        &[],
    );
    let k = wait_running(&ns, &name, "1/1").await;
    assert_eq!(
        k.metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .get("connectwarden.io/restart")
            .map(String::as_str),
        Some("includeTasks,onlyFailed"),
        "the annotation stays"
    );
    let st = k.status.unwrap();
    assert_eq!(
        st.last_handled_restart.as_deref(),
        Some("includeTasks,onlyFailed")
    );
    assert_eq!(st.auto_restart.map(|a| a.count), Some(0));
    let ev = events(&ns, &name);
    assert!(
        ev.contains(&format!(
            "restarted the failed connector and tasks of {name:?} as asked by connectwarden.io/restart=\"includeTasks,onlyFailed\""
        )),
        "{ev}"
    );
    let m = scrape(&shared_metrics_url()).await;
    assert_eq!(
        sample(
            &m,
            "connect_warden_connector_restarts_total",
            &with(&[("target", "task"), ("trigger", "manual")])
        ),
        Some(1.0)
    );
    let up = sample(&m, "connect_warden_connector_uptime_seconds", &cn).unwrap();
    assert!(up < 30.0, "uptime starts again from zero, got {up}");
    // Time is the subject here: uptime counts wall-clock seconds, so it must grow by about the time slept.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let up2 = sample(
        &scrape(&shared_metrics_url()).await,
        "connect_warden_connector_uptime_seconds",
        &cn,
    )
    .unwrap();
    assert!(up2 >= up + 2.0, "uptime grows: {up} then {up2}");
    assert!(
        sample(
            &m,
            "connect_warden_connect_requests_total",
            &[
                ("path", "/connectors?expand=status&expand=info"),
                ("code", "200")
            ]
        )
        .unwrap_or(0.0)
            > 0.0
    );

    // Series of a deleted connector disappear.
    delete_connector(&ns, &name);
    let m = scrape(&shared_metrics_url()).await;
    assert!(
        !m.contains(&format!("name=\"{name}\"")),
        "series of {name} left"
    );
}

/// How many manual restarts of `target` (connector or task) the shared controller sent for `name`.
async fn manual_restarts(name: &str, target: &str) -> f64 {
    total(
        &scrape(&shared_metrics_url()).await,
        "connect_warden_connector_restarts_total",
        &[("name", name), ("target", target), ("trigger", "manual")],
    )
}

async fn handled(ns: &str, name: &str) -> (Option<String>, Option<String>) {
    let st = get(ns, name)
        .await
        .and_then(|k| k.status)
        .unwrap_or_default();
    (st.last_handled_restart, st.last_handled_task_restart)
}

/// Request annotations the webhook never judged (a namespace it does not serve, as with the webhook not
/// installed or failing open): the controller refuses an unreadable value once, visibly, and acts on nothing.
#[tokio::test]
async fn unreadable_requests_the_webhook_never_saw_are_refused_once_by_the_controller() {
    let ns = namespace(
        "ctl-unjudged",
        &[(PRIVATE_LABEL, unique("ctl-unjudged").as_str())],
    );
    cluster(&ns, "main", &kafka_env().connect_url)
        .apply()
        .expect_ok();
    let name = unique("cw-unjudged");
    let out = scratch("ctl-unjudged").join("out.txt");
    file_sink(&ns, &name, "unjudged-t", out.display())
        .annotation("connectwarden.io/restart", "t0")
        .apply()
        .expect_ok();
    wait_running(&ns, &name, "1/1").await;

    annotate_connector(
        &ns,
        &name,
        "connectwarden.io/restart=t1,includeTask",
        &["--overwrite"],
    );
    annotate_connector(&ns, &name, "connectwarden.io/offsets=rewind", &[]);
    // The event and the status write are two requests; wait for both.
    eventually(
        "Warnings about both values, recorded as handled",
        T,
        || async {
            let k = get(&ns, &name).await.ok_or("not found")?;
            let st = k.status.clone().unwrap_or_default();
            let ev = events(&ns, &name);
            (ev.contains("InvalidAnnotation")
                && st.last_handled_restart.as_deref() == Some("t1,includeTask")
                && st.last_handled_offsets.as_deref() == Some("rewind"))
            .then_some(())
            .ok_or(format!(
                "handled {:?} {:?}; events: {ev}",
                st.last_handled_restart, st.last_handled_offsets
            ))
        },
    )
    .await;
    let k = get(&ns, &name).await.unwrap();
    assert_eq!(
        condition(&k, "Offsets"),
        (
            "False".into(),
            "InvalidRequest".into(),
            "connectwarden.io/offsets: \"rewind\" does not start with list, alter or reset; use e.g. \"list\" or \"reset,2024-05-01T10:00:00Z\" (the token makes a repeated request new)".into()
        )
    );
    // Warned about once, though the controller reconciles the connector again and again.
    wait_polls(&shared_metrics_url(), &format!("{ns}/main"), 2).await;
    let list = event_list(&ns, &name);
    let warned: Vec<_> = list
        .iter()
        .filter(|e| {
            e.1.contains("\"includeTask\" looks like a misspelled option")
        })
        .collect();
    assert!(
        warned.len() == 1 && warned[0].2 == 1,
        "one warning in {list:#?}"
    );
    assert_eq!(manual_restarts(&name, "connector").await, 0.0);
    delete_connector(&ns, &name);
}

#[tokio::test]
async fn restart_requests_are_values_handled_once_and_left_in_place() {
    let ns = shared_namespace("ctl-manual");
    let name = unique("cw-manual");
    let out = scratch("ctl-manual").join("out.txt");
    let yaml = |restart: Option<&str>| {
        let c = file_sink(&ns, &name, "manual-t", out.display()).tasks_max(2);
        match restart {
            Some(v) => c.annotation("connectwarden.io/restart", v),
            None => c,
        }
        .yaml()
    };
    apply(&yaml(None), &[]).expect_ok();
    wait_running(&ns, &name, "2/2").await;

    // One task, by id: restarted once, recorded, the annotation left in place.
    annotate_connector(&ns, &name, "connectwarden.io/restart-task=1", &[]);
    eventually("the task restart done and recorded", T, || async {
        let n = manual_restarts(&name, "task").await;
        let h = handled(&ns, &name).await;
        (n == 1.0 && h.1.as_deref() == Some("1"))
            .then_some(())
            .ok_or(format!("{n} restarts, handled {h:?}"))
    })
    .await;
    let k = get(&ns, &name).await.unwrap();
    assert_eq!(
        k.metadata.annotations.unwrap_or_default()["connectwarden.io/restart-task"],
        "1"
    );

    // A misspelled option: denied at admission, so the annotation never changes and nothing restarts.
    let out = try_annotate_connector(&ns, &name, "connectwarden.io/restart=includeTask", &[])
        .expect_err();
    assert!(
        out.stderr.contains(
            "connectwarden.io/restart: \"includeTask\": \"includeTask\" looks like a misspelled option (did you mean includeTasks?)"
        ),
        "{}",
        out.stderr
    );
    let k = get(&ns, &name).await.unwrap();
    assert!(
        !k.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("connectwarden.io/restart")
    );

    // GitOps: the manifest carries a value. Applied: one restart. Applied again, as a sync does: nothing.
    let v1 = "2024-05-01T10:00:00Z";
    apply(&yaml(Some(v1)), &[]).expect_ok();
    eventually("the restart done and recorded", T, || async {
        let n = manual_restarts(&name, "connector").await;
        let h = handled(&ns, &name).await;
        (n == 1.0 && h.0.as_deref() == Some(v1))
            .then_some(())
            .ok_or(format!("{n} restarts, handled {h:?}"))
    })
    .await;
    apply(&yaml(Some(v1)), &[]).expect_ok();
    annotate_connector(
        &ns,
        &name,
        &format!("connectwarden.io/restart={v1}"),
        &["--overwrite"],
    );
    wait_polls(&shared_metrics_url(), &format!("{ns}/main"), 3).await;
    assert_eq!(
        manual_restarts(&name, "connector").await,
        1.0,
        "same value, no restart"
    );
    assert_eq!(manual_restarts(&name, "task").await, 1.0);

    // A new value: exactly one more.
    let v2 = "2024-05-01T10:05:00Z";
    apply(&yaml(Some(v2)), &[]).expect_ok();
    eventually("the second restart done", T, || async {
        let n = manual_restarts(&name, "connector").await;
        (n >= 2.0).then_some(()).ok_or(format!("{n} restarts"))
    })
    .await;
    wait_polls(&shared_metrics_url(), &format!("{ns}/main"), 2).await;
    assert_eq!(manual_restarts(&name, "connector").await, 2.0);
    let k = wait_running(&ns, &name, "2/2").await;
    assert_eq!(
        k.status.as_ref().unwrap().last_handled_restart.as_deref(),
        Some(v2)
    );
    assert_eq!(
        k.metadata.annotations.unwrap_or_default()["connectwarden.io/restart"],
        v2
    );

    // Each event tells its own request, once.
    let list = event_list(&ns, &name);
    let once = |text: &str| {
        let hits: Vec<_> = list.iter().filter(|e| e.1 == text).collect();
        assert!(
            hits.len() == 1 && hits[0].2 == 1,
            "{text:?} once in {list:#?}"
        );
    };
    once(&format!(
        "restarted task 1 of {name:?} as asked by connectwarden.io/restart-task=\"1\""
    ));
    once(&format!(
        "restarted the connector of {name:?} as asked by connectwarden.io/restart=\"{v1}\""
    ));
    once(&format!(
        "restarted the connector of {name:?} as asked by connectwarden.io/restart=\"{v2}\""
    ));
    // The denied value never reached the controller.
    assert!(
        !list.iter().any(|e| e.1.contains("misspelled")),
        "{list:#?}"
    );
    delete_connector(&ns, &name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_and_restarts_continue_without_duplicates() {
    let (ns, id) = private_setup("ctl-lease");
    let lease = unique("cw-lease");
    let lease_args = [
        "--leader-election",
        "--lease-name",
        lease.as_str(),
        "--lease-namespace",
        ns.as_str(),
        "--lease-duration-seconds",
        "4",
        "--log-level",
        "info,connect_warden_controller=debug",
    ];
    stack::warden::grant_leader_election(kube_env(), &ns, &lease)
        .expect("granting leader election");
    let mut a = private_controller(&id, &lease_args);
    let mut b = private_controller(&id, &lease_args);
    private_cluster(&ns, &id);
    let name = unique("cw-lease");
    let file = scratch("ctl-lease").join("missing").join("out.txt");
    file_sink(&ns, &name, "lease-t", file.display())
        .label(PRIVATE_LABEL, &id)
        .restarts(4, 4)
        .apply()
        .expect_ok();

    let leader_of = |m: &str| sample(m, "connect_warden_leader", &[]) == Some(1.0);
    let (a_url, b_url) = (a.metrics_url(), b.metrics_url());
    let a_leads = eventually("exactly one leader", T, || async {
        let (ma, mb) = (scrape(&a_url).await, scrape(&b_url).await);
        (leader_of(&ma) ^ leader_of(&mb))
            .then_some(leader_of(&ma))
            .ok_or("no single leader yet".to_string())
    })
    .await;
    let (leader, standby) = if a_leads {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    // Right after the first restart, the leader dies (the next one is due 4 s later).
    let leader_url = leader.metrics_url();
    let by_leader = eventually("the first restart", T, || async {
        let k = get(&ns, &name).await.ok_or("gone")?;
        let c = k.status.and_then(|s| s.auto_restart).map_or(0, |a| a.count);
        let sent = total(
            &scrape(&leader_url).await,
            "connect_warden_connector_restarts_total",
            &[("name", name.as_str()), ("trigger", "automatic")],
        );
        (c >= 1 && sent >= 1.0)
            .then_some(sent)
            .ok_or(format!("count {c}, sent {sent}"))
    })
    .await;
    leader.kill();
    let counted = get(&ns, &name)
        .await
        .unwrap()
        .status
        .unwrap()
        .auto_restart
        .unwrap()
        .count;
    assert_eq!(
        by_leader,
        f64::from(counted),
        "the leader's restarts match status at the handover"
    );

    // The standby takes over within the lease duration and continues the count until exhausted.
    let k = wait_reason(&ns, &name, "False", "RestartsExhausted").await;
    assert_eq!(k.status.unwrap().auto_restart.unwrap().count, 4);
    let m = scrape(&standby.metrics_url()).await;
    assert!(leader_of(&m));
    let by_standby = total(
        &m,
        "connect_warden_connector_restarts_total",
        &[("name", name.as_str()), ("trigger", "automatic")],
    );
    let lines: Vec<&str> = m.lines().filter(|l| l.contains(name.as_str())).collect();
    assert_eq!(
        by_leader + by_standby,
        4.0,
        "no restart issued twice across the handover (leader {by_leader}, standby: {lines:#?})"
    );

    delete_connector(&ns, &name);
    wait_gone_from_connect(&connect(), &name).await;
}
