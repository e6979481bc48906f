//! The state's check-path indexes (`HotUser`, `HotProject`) against the records they
//! mirror: every kind of change keeps them equal to a fresh rebuild, and a batch that
//! does not fit changes nothing.

use accessgraph::graph::{NewMember, NewProject, ProjectPatch};
use accessgraph::model::HotUserBuf;
use accessgraph::state::State;
use accessgraph::{Graph, Instant, Result};

/// The check-path index equals a fresh rebuild from the records.
fn hot_index_is_consistent(st: &State) -> bool {
    let users_ok = st.users.iter().enumerate().all(|(i, u)| {
        let fresh = HotUserBuf::new(
            u32::try_from(i).unwrap_or(u32::MAX),
            &u.email,
            &u.memberships,
        );
        let fresh = fresh.view();
        st.user_ids.get(&u.email) == Some(fresh) && st.hot_by_id(fresh.id()) == Some(fresh)
    });
    let projects_ok = st.projects.iter().enumerate().all(|(i, p)| match p {
        None => true,
        Some(p) => st.hot_projects.get(i).is_some_and(|h| {
            h.org == p.org
                && h.restricted == p.attrs.restricted
                && h.default_role == p.attrs.default_role
        }),
    });
    users_ok && projects_ok && st.user_ids.len() == st.users.len()
}

#[test]
fn a_batch_that_does_not_fit_changes_nothing() -> Result<()> {
    use accessgraph::roles::ProjectRole;
    use accessgraph::state::{Change, GrantAttrs, OrgAttrs};
    let g = Graph::new();
    g.add_org("acme", None, "o@x.io", None)?;
    let before = (g.orgs()?, g.members("acme")?, g.grants(None, None)?);
    let batch = [
        Change::OrgCreated {
            org: "beta".into(),
            attrs: OrgAttrs::default(),
        },
        Change::ProjectCreated {
            project: "acme/web".into(),
            attrs: accessgraph::model::ProjectAttrs::default(),
            api_key: None,
        },
        // nobody@x.io is no member of acme: the whole batch must be refused
        Change::GrantAdded {
            user: "nobody@x.io".into(),
            target: "acme/web".into(),
            attrs: GrantAttrs {
                role: ProjectRole::Viewer,
                expires: None,
                reason: None,
                review_by: None,
            },
        },
    ];
    assert!(g.apply_batch(&batch, None).is_err());
    assert_eq!(
        (g.orgs()?, g.members("acme")?, g.grants(None, None)?),
        before
    );
    assert!(g.projects(None)?.is_empty());
    assert!(g.peek(hot_index_is_consistent));
    g.apply_batch(batch.get(..2).unwrap_or_default(), None)?;
    assert_eq!(g.orgs()?.len(), 2);
    assert!(g.peek(hot_index_is_consistent));
    Ok(())
}

#[test]
fn rebuild_hot_gives_the_index_changes_maintain() -> Result<()> {
    let g = Graph::new();
    g.add_org("acme", None, "o@x.io", None)?;
    g.add_project("acme/a", NewProject::default(), None)?;
    g.add_project("acme/b", NewProject::default(), None)?;
    g.remove_project("acme/a", None)?; // a `None` slot
    g.add_member("m@x.io", "acme", NewMember::default(), None)?;
    g.grant("m@x.io", "acme/b", "admin", Some(Instant(5)), None, None)?;
    g.grant("m@x.io", "acme/*", "viewer", None, None, None)?;
    let mut st = g.snapshot_state()?;
    st.user_ids = accessgraph::state::hot::UserIndex::default();
    st.hot_projects.clear();
    st.rebuild_hot();
    assert!(hot_index_is_consistent(&st));
    assert_eq!(st.hot_projects, g.peek(|s| s.hot_projects.clone()));
    Ok(())
}

#[test]
fn hot_index_follows_every_kind_of_change() -> Result<()> {
    let g = Graph::new();
    g.set_time(Some(Instant(0)));
    let consistent = |g: &Graph| g.peek(hot_index_is_consistent);
    g.add_org("acme", None, "o@x.io", None)?;
    g.add_org("beta", None, "o@x.io", None)?;
    for p in ["acme/a", "acme/b", "beta/c"] {
        g.add_project(p, NewProject::default(), None)?;
    }
    let member = NewMember {
        expires: Some(Instant(10)),
        ..NewMember::default()
    };
    g.add_member("m@x.io", "acme", member, None)?;
    g.add_member("m@x.io", "beta", NewMember::default(), None)?;
    g.grant("m@x.io", "acme/a", "viewer", None, None, None)?;
    g.grant("m@x.io", "acme/b", "admin", Some(Instant(5)), None, None)?;
    g.grant("m@x.io", "acme/*", "member", None, None, None)?;
    g.grant("m@x.io", "beta/c", "member", None, None, None)?;
    assert!(consistent(&g));
    g.grant("m@x.io", "acme/a", "admin", None, None, None)?;
    g.set_org_role("m@x.io", "acme", "admin", None)?;
    let patch = ProjectPatch {
        default_role: Some(Some("viewer".into())),
        ..ProjectPatch::default()
    };
    g.update_project("acme/b", patch, None)?;
    assert!(consistent(&g));
    g.remove_project("acme/a", None)?;
    assert!(consistent(&g));
    g.revoke("m@x.io", "acme/*", None)?;
    g.remove_member("m@x.io", "beta", None)?;
    assert!(consistent(&g));
    g.remove_org("acme", None)?;
    assert!(consistent(&g));
    assert!(!g.check("m@x.io", "project:view", "acme/b", None)?);
    Ok(())
}
