//! etcd + kube-apiserver (+ kubectl). Being written.
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KubeEnv {
    pub kubeconfig: PathBuf,
}
