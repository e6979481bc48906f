//! Evaluation: effective roles, `check` / `explain`, and the reverse lookups.
//!
//! Every answer comes from one function, [`evaluate`], so that `check`, `explain`,
//! `who_can`, `permissions` and the matrix cannot disagree. It allocates nothing and
//! reads the clock only when an expiry must be compared.

//!
//! - [`evaluate`]: effective roles and the verdict every answer comes from.
//! - [`reverse`]: permissions, who can, accessible projects, the access matrix.
//! - [`explain`]: a decision in words.
//! - [`principal`]: checks made with an API key.
//! - [`diff`]: who gains and loses what between two states.

pub mod diff;
pub mod evaluate;
pub mod explain;
pub mod principal;
pub mod reverse;

pub use evaluate::{
    check, effective_role, evaluate, evaluate_user, role, validate_target, Verdict, Why,
};
pub use explain::explain;
pub use principal::{Principal, PrincipalKind, Subject};
pub use reverse::{access_matrix, accessible, permissions, who_can, MatrixRow};
