//! Backends given by host name in a real process: `localhost:PORT` resolves at load
//! and serves; a reload to a name that does not resolve is rejected with its YAML
//! path, the running config keeps serving, and the same bytes are tried again (on the
//! retry timer, SIGHUP and `POST /reload`), since a lookup can fail for a while.

use sluicegate_testkit::{
    APPLIED, Detached, PROCESS_WAIT, ProcessProxy, free_port, poll, process_config, save,
};

use crate::BIN;

#[test]
fn a_named_backend_serves_and_a_name_that_does_not_resolve_keeps_the_running_config() {
    let mut fakes = Detached::start();
    let port = fakes.localhost("a");
    let b = fakes.named("b");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    let named = format!("localhost:{port}");
    std::fs::write(&path, process_config(listen, &named)).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, listen);
    assert!(proxy.serves("a", PROCESS_WAIT), "{:?}", proxy.log());
    assert!(
        proxy.logged(&format!("cluster app: {named} → 127.0.0.1:{port}"))
            || proxy.logged(&format!("cluster app: {named} → [::1]:{port}")),
        "the resolution is not logged: {:?}",
        proxy.log()
    );
    let status = proxy.status();
    let backends = status["clusters"][0]["backends"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        backends.iter().all(|b| b["name"] == named.as_str()
            && b["address"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{port}"))),
        "{backends:?}"
    );

    // A label over 63 bytes: the resolver refuses the name without a query on the network.
    save(
        &path,
        &process_config(
            listen,
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.invalid:80",
        ),
    );
    let error = "clusters.app.backends[0].address: cannot resolve \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.invalid:80\": ";
    assert!(
        poll(PROCESS_WAIT, || proxy.reloads("error") >= 1),
        "the failed lookup was not reported: {:?}",
        proxy.log()
    );
    assert!(
        poll(APPLIED, || proxy.logged(error)),
        "{:?}",
        proxy.lines("reload rejected")
    );
    assert_eq!(proxy.get(), "a", "the running config keeps serving");
    let last = &proxy.status()["last_reload"];
    assert_eq!(
        last["errors"][0]["path"],
        "clusters.app.backends[0].address"
    );
    assert_eq!(last["errors"][0]["line"], 9);

    // Unchanged bytes are tried again: by the retry timer, by SIGHUP and by POST /reload.
    assert!(
        poll(PROCESS_WAIT, || proxy.reloads("error") >= 2),
        "the failed lookup was not retried: {:?}",
        proxy.lines("reload rejected")
    );
    assert!(
        proxy.logged("the running config keeps serving; retrying in 1 s"),
        "{:?}",
        proxy.lines("reload rejected")
    );
    let before = proxy.reloads("error");
    proxy.hup();
    assert!(
        poll(PROCESS_WAIT, || proxy.reloads("error") > before),
        "SIGHUP did not retry"
    );
    let (status, body) = proxy.admin_request("POST", "/reload");
    assert_eq!(status, 422, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("cannot resolve \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.invalid:80\": "),
        "{body}"
    );
    assert_eq!(proxy.get(), "a");

    save(&path, &process_config(listen, b));
    assert!(proxy.serves("b", APPLIED), "the good save was not applied");
}
