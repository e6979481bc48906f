//! Access drift between two graphs (SPEC 4.6): who gains and who loses which effective
//! project role, and which org role.

use std::collections::BTreeMap;

use crate::roles::Role;
use crate::state::State;
use crate::time::At;

/// How a user's access to a project, or their role in an org, changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// No access before, some after.
    Gained,
    /// Some access before, none after.
    Lost,
    /// A different role.
    Changed,
}

impl ChangeKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Gained => "gained",
            ChangeKind::Lost => "lost",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One user's change of effective role on one project, or of role in one org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessChange {
    /// Email.
    pub user: String,
    /// Project id (`org/project`), or an org's slug for a change of org role.
    pub project: String,
    /// Role before: a project role on a project, an org role on an org.
    pub before: Option<Role>,
    /// Role after.
    pub after: Option<Role>,
    /// Gained, lost or changed.
    pub kind: ChangeKind,
}

/// Every (user, project) → effective project role, and every (user, org) → org role, of
/// a state at an instant (unexpired memberships only).
fn roles(st: &State, at: &mut At<'_>) -> BTreeMap<(String, String), Role> {
    let mut out = BTreeMap::new();
    for row in super::access_matrix(st, None, at) {
        out.insert((row.user.clone(), row.org), Role::Org(row.org_role));
        if let (Some(project), Some(role)) = (row.project, row.project_role) {
            out.insert((row.user, project), Role::Project(role));
        }
    }
    out
}

/// The changes from `before` (at its instant) to `after` (at its), sorted by user then
/// target (an org's slug sorts before its projects' ids). An org role is compared with
/// the org role only, a project role with the project role only: an org and a project
/// never share an id (a project's holds a `/`).
pub fn diff(
    before: &State,
    at_before: &mut At<'_>,
    after: &State,
    at_after: &mut At<'_>,
) -> Vec<AccessChange> {
    let old = roles(before, at_before);
    let new = roles(after, at_after);
    let mut keys: Vec<&(String, String)> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let (b, a) = (old.get(key).copied(), new.get(key).copied());
            let kind = match (b, a) {
                (None, Some(_)) => ChangeKind::Gained,
                (Some(_), None) => ChangeKind::Lost,
                (Some(x), Some(y)) if x != y => ChangeKind::Changed,
                _ => return None,
            };
            Some(AccessChange {
                user: key.0.clone(),
                project: key.1.clone(),
                before: b,
                after: a,
                kind,
            })
        })
        .collect()
}
