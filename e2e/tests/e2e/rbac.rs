//! The shipped ServiceAccounts may do exactly what `deploy/rbac/expected/` lists, as the API server answers
//! `kubectl auth can-i --list` for them: a new permission is a reviewed change of those files. (That they
//! are enough is shown by every other test: the stack's webhook and controller run under them.)

use connect_warden_e2e::rbac::{assert_expected, can_i_list};
use connect_warden_e2e::*;
use stack::warden::{CONTROLLER_SA, INSTALL_NAMESPACE, WEBHOOK_SA};

#[test]
fn the_shipped_service_accounts_may_do_exactly_the_reviewed_list() {
    let app = namespace("rbac-app", &[]);
    for (file, sa) in [("controller", CONTROLLER_SA), ("webhook", WEBHOOK_SA)] {
        for (scope, ns) in [
            ("install-namespace", INSTALL_NAMESPACE),
            ("app-namespace", app.as_str()),
        ] {
            let actual = can_i_list(ns, INSTALL_NAMESPACE, sa);
            assert_expected(&format!("{file}.{scope}"), INSTALL_NAMESPACE, &actual);
        }
    }
}
