//! Reading a snapshot into a new state, validated once in document order.

use std::collections::BTreeSet;

use crate::error::{Error, JsonPathError, ValidationError};
use crate::ids::{self, new_map, GrantTarget, Map};
use crate::model::keys::{self, PersonalKey};
use crate::model::requests::{AccessRequest, RequestStatus};
use crate::model::templates::{self};
use crate::model::{
    Grant, Membership, OrgRec, ProjectAttrs, ProjectRec, ResourceRec, Settings, UserRec,
};
use crate::roles::{OrgRole, ResourceKind};
use crate::state::{State, TargetRef};

use super::doc::{ActionJson, ApiKeyJson, Doc, GrantJson, Header, UserJson};
use super::locate::located;

// ---------------------------------------------------------------------------------------
// Reading

/// Reads the document whole, then builds the state from it: the reading that reports
/// every error (a byte-order mark already removed).
pub(super) fn read_whole(text: &str) -> Result<State, JsonPathError> {
    let doc: Doc<'_> = match serde_json::from_str(text) {
        Ok(doc) => doc,
        Err(e) => {
            // The header first: a newer version must be reported as such, not as unknown
            // fields. (A document that reads whole has a valid header: no second pass.)
            serde_json::from_str::<Header>(text).map_err(|h| located(text, &h))?;
            return Err(located(text, &e));
        }
    };
    build(&doc)
}

fn at(list: &str, i: usize) -> String {
    format!("$.{list}[{i}]")
}

fn field(list: &str, i: usize, name: &str) -> String {
    format!("$.{list}[{i}].{name}")
}

/// A core validation error at `path`; an `Invalid` error names its field, which is
/// appended when the path does not end in it already.
fn invalid(path: String, e: &Error) -> JsonPathError {
    let path = match e {
        Error::Validation(ValidationError::Invalid { field, .. })
            if !path.ends_with(&format!(".{field}")) && !field.is_empty() =>
        {
            format!("{path}.{field}")
        }
        _ => path,
    };
    JsonPathError::new(path, e.to_string())
}

/// An email, or the pseudonym (`erased:<16 hex>`) an erased user's email became: it
/// stays wherever the user was named (the user record, `granted_by`, owners).
fn email(path: impl FnOnce() -> String, s: &str) -> Result<String, JsonPathError> {
    if ids::is_pseudonym(s) {
        return Ok(s.to_owned());
    }
    ids::email("email", s).map_err(|_| {
        JsonPathError::new(
            path(),
            format!(
                "invalid email `{}` (expected an email address)",
                s.escape_debug()
            ),
        )
    })
}

fn check_settings(path: impl FnOnce() -> String, settings: &Settings) -> Result<(), JsonPathError> {
    match settings.get("members_can_invite") {
        Some(v) if !v.is_boolean() => Err(JsonPathError::new(
            format!("{}.settings.members_can_invite", path()),
            format!("invalid value `{v}` (expected true or false)"),
        )),
        _ => Ok(()),
    }
}

/// A user listed under `users`, while the state is built.
struct Listed<'d> {
    /// The record in the document.
    json: &'d UserJson<'d>,
    /// The user's id once a membership or a resource created the record.
    uid: Option<u32>,
}

/// The state being built and the lookups the checks need.
pub(super) struct Builder<'d> {
    st: State,
    /// Org slug → (index in `$.orgs`, org id).
    orgs: Map<&'d str, (usize, u32)>,
    /// Project id → project id number.
    projects: Map<&'d str, u32>,
    /// Lower-case email → index in `listed`.
    emails: Map<String, usize>,
    listed: Vec<Listed<'d>>,
}

impl Builder<'_> {
    /// The listed user `s` names: a known email as written (the common case, no copy),
    /// else checked and lower-cased.
    fn known(&self, path: impl Fn() -> String, s: &str) -> Result<usize, JsonPathError> {
        if let Some(&i) = self.emails.get(s) {
            return Ok(i);
        }
        let key = email(&path, s)?;
        self.emails.get(&key).copied().ok_or_else(|| {
            JsonPathError::new(
                path(),
                format!("unknown user `{key}` (not listed in `$.users`)"),
            )
        })
    }

    /// The user record of listed user `i`, created (with the listed name and title) on
    /// first use, so that ids follow the order records are first needed in.
    fn user(&mut self, i: usize) -> u32 {
        let Some(l) = self.listed.get_mut(i) else {
            return u32::MAX;
        };
        if let Some(uid) = l.uid {
            return uid;
        }
        let uid = u32::try_from(self.st.users.len()).unwrap_or(u32::MAX);
        let email = l.json.email.to_ascii_lowercase();
        self.st.users.push(UserRec {
            email: email.into(),
            name: l.json.name.as_deref().map(str::to_owned),
            title: l.json.title.as_deref().map(str::to_owned),
            memberships: Vec::new(),
        });
        l.uid = Some(uid);
        uid
    }

    fn email_of(&self, i: usize) -> &str {
        self.listed.get(i).map_or("", |l| &l.json.email)
    }
}

/// Validates the document and builds the state it describes, in one pass per list: each
/// rule is checked in document order and reported at the record's path, the records are
/// written once, and the check-path indexes are built once at the end. Every reference
/// is checked here, so nothing can fail afterwards.
fn build(doc: &Doc<'_>) -> Result<State, JsonPathError> {
    let mut b = Builder::new(doc);
    b.orgs_projects(doc)?;
    b.actions(&doc.actions)?;
    b.people(doc)?;
    b.grants(0, &doc.grants)?;
    b.rest(doc)?;
    Ok(b.finish())
}

// The stages of [`build`], in the order it runs them. A snapshot read in sections
// (`split`) runs the same stages with `actions` after `grants`: the catalog is not read
// before `rest`, and any error there is reported by reading the document whole.
impl<'d> Builder<'d> {
    /// An empty state, with room for the head's records.
    pub(super) fn new(head: &Doc<'_>) -> Self {
        let mut b = Builder {
            st: State::new(),
            orgs: new_map(),
            projects: new_map(),
            emails: new_map(),
            listed: Vec::with_capacity(head.users.len()),
        };
        b.st.targets.reserve(head.orgs.len() + head.projects.len());
        b
    }

    /// Orgs and projects.
    #[expect(
        clippy::too_many_lines,
        reason = "validates both lists in document order, so errors come in the order a reader meets them"
    )]
    pub(super) fn orgs_projects(&mut self, doc: &'d Doc<'d>) -> Result<(), JsonPathError> {
        for (i, o) in doc.orgs.iter().enumerate() {
            let path = || field("orgs", i, "slug");
            ids::org_slug("slug", &o.slug).map_err(|e| invalid(path(), &e))?;
            if let Some((first, _)) = self.orgs.get(o.slug.as_str()) {
                return Err(JsonPathError::new(
                    path(),
                    format!(
                        "duplicate organization `{}` (first at {})",
                        o.slug,
                        at("orgs", *first)
                    ),
                ));
            }
            check_settings(|| at("orgs", i), &o.settings)?;
            let oid = u32::try_from(self.st.orgs.len()).unwrap_or(u32::MAX);
            self.st.orgs.push(Some(OrgRec {
                slug: o.slug.as_str().into(),
                name: o.name.clone(),
                settings: o.settings.clone(),
                members_can_invite: o
                    .settings
                    .get("members_can_invite")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
                members: BTreeSet::new(),
                projects: BTreeSet::new(),
                owners: 0,
            }));
            self.st
                .targets
                .insert(o.slug.as_str().into(), TargetRef::Org(oid));
            self.orgs.insert(&o.slug, (i, oid));
        }

        for (i, p) in doc.projects.iter().enumerate() {
            let path = || field("projects", i, "id");
            let (org, _) = ids::project_id("id", &p.id).map_err(|e| invalid(path(), &e))?;
            let Some(&(_, oid)) = self.orgs.get(org) else {
                return Err(JsonPathError::new(
                    path(),
                    format!("unknown organization `{org}` (not listed in `$.orgs`)"),
                ));
            };
            if self.projects.contains_key(p.id.as_str()) {
                return Err(JsonPathError::new(
                    path(),
                    format!("duplicate project `{}`", p.id),
                ));
            }
            if p.restricted && p.default_role.is_some() {
                return Err(JsonPathError::new(
                    field("projects", i, "default_role"),
                    "a restricted project cannot have a default role",
                ));
            }
            let pid = u32::try_from(self.st.projects.len()).unwrap_or(u32::MAX);
            self.st.projects.push(Some(ProjectRec {
                id: p.id.as_str().into(),
                org: oid,
                attrs: ProjectAttrs {
                    name: p.name.clone(),
                    environment: p.environment.clone(),
                    restricted: p.restricted,
                    pii: p.pii,
                    default_role: p.default_role,
                    settings: p.settings.clone(),
                },
                resources: BTreeSet::new(),
            }));
            if let Some(Some(o)) = self.st.orgs.get_mut(oid as usize) {
                o.projects.insert(pid);
            }
            self.st
                .targets
                .insert(p.id.as_str().into(), TargetRef::Project(pid));
            self.projects.insert(&p.id, pid);
            let token = match &p.api_key {
                Some(t) => {
                    let path = || field("projects", i, "api_key");
                    if !keys::is_project_token(t) {
                        return Err(JsonPathError::new(
                            path(),
                            format!(
                                "invalid api_key `{}` (expected a project key `agc_` followed by 16 to 128 letters or digits)",
                                t.escape_debug()
                            ),
                        ));
                    }
                    if self.st.keys.by_hash.contains_key(keys::hash(t).as_str()) {
                        return Err(JsonPathError::new(
                            path(),
                            "duplicate api_key: another project holds it",
                        ));
                    }
                    t.clone()
                }
                None => keys::new_project_token().map_err(|e| {
                    JsonPathError::new(field("projects", i, "api_key"), e.to_string())
                })?,
            };
            self.st.keys.set_project(pid, token);
        }
        Ok(())
    }

    /// Custom actions.
    pub(super) fn actions(&mut self, actions: &[ActionJson]) -> Result<(), JsonPathError> {
        for (i, a) in actions.iter().enumerate() {
            let def = self
                .st
                .catalog
                .validate_custom(&a.name, &a.scope, &a.min_role, a.owner_role.as_deref())
                .map_err(|e| invalid(at("actions", i), &e))?;
            if self.st.catalog.contains(&a.name) {
                return Err(JsonPathError::new(
                    field("actions", i, "name"),
                    format!("action `{}` already exists", a.name),
                ));
            }
            self.st.catalog.add(def);
        }
        Ok(())
    }

    /// Users and memberships, then the rule that every org keeps an owner.
    pub(super) fn people(&mut self, doc: &'d Doc<'d>) -> Result<(), JsonPathError> {
        self.emails.reserve(doc.users.len());
        for (i, u) in doc.users.iter().enumerate() {
            let key = email(|| field("users", i, "email"), &u.email)?;
            if self.emails.contains_key(&key) {
                return Err(JsonPathError::new(
                    field("users", i, "email"),
                    format!("duplicate user `{key}`"),
                ));
            }
            self.emails.insert(key, i);
            self.listed.push(Listed { json: u, uid: None });
        }

        self.st.users.reserve(doc.users.len());
        for (i, m) in doc.memberships.iter().enumerate() {
            let who = self.known(|| field("memberships", i, "user"), &m.user)?;
            let Some(&(_, oid)) = self.orgs.get(&*m.org) else {
                return Err(JsonPathError::new(
                    field("memberships", i, "org"),
                    format!(
                        "unknown organization `{}` (not listed in `$.orgs`)",
                        m.org.escape_debug()
                    ),
                ));
            };
            let uid = self.user(who);
            let Some(u) = self.st.users.get_mut(uid as usize) else {
                continue; // unreachable: `user` made the record
            };
            if u.memberships.iter().any(|x| x.org == oid) {
                return Err(JsonPathError::new(
                    at("memberships", i),
                    format!("duplicate membership of `{}` in `{}`", u.email, m.org),
                ));
            }
            if m.role == OrgRole::Owner && m.expires.is_some() {
                return Err(JsonPathError::new(
                    field("memberships", i, "expires"),
                    "an owner membership cannot expire",
                ));
            }
            let by = m
                .granted_by
                .as_deref()
                .map(|s| email(|| field("memberships", i, "granted_by"), s))
                .transpose()?;
            let mut rec = Membership::new(oid, m.role, m.expires, m.granted_at);
            rec.reason = m.reason.as_deref().map(Box::from);
            rec.reviewed = m.reviewed;
            rec.external = m.external;
            rec.granted_by = by.map(String::into_boxed_str);
            // Grown by exactly one: a vector of room for four shrunk at the end would leave
            // a freed tail behind every user for the allocator to keep.
            u.memberships.reserve_exact(1);
            u.memberships.push(rec);
            if let Some(Some(o)) = self.st.orgs.get_mut(oid as usize) {
                o.members.insert(uid);
                if m.role == OrgRole::Owner {
                    o.owners += 1;
                }
            }
        }
        // The first org by slug without an owner.
        if let Some((slug, i)) = self
            .orgs
            .iter()
            .filter(|(_, (_, oid))| self.st.org(*oid).is_some_and(|o| o.owners == 0))
            .map(|(slug, (i, _))| (*slug, *i))
            .min()
        {
            return Err(JsonPathError::new(
                at("orgs", i),
                format!("organization `{slug}` has no owner: an organization must keep an owner"),
            ));
        }
        Ok(())
    }

    /// Grants `first..` of `$.grants`: a run of a user's grants (as written) in one org is
    /// never split between two calls.
    pub(super) fn grants(
        &mut self,
        first: usize,
        grants: &[GrantJson<'_>],
    ) -> Result<(), JsonPathError> {
        // A snapshot `to_json` wrote lists a user's grants together: the previous grant's
        // user is looked up again without hashing.
        let mut last: Option<(&str, usize)> = None;
        for (i, g) in grants.iter().enumerate() {
            let n = first + i;
            let who = match last {
                Some((text, who)) if text == &*g.user => who,
                _ => self.known(|| field("grants", n, "user"), &g.user)?,
            };
            last = Some((&g.user, who));
            let (oid, pid) = grant_target(self, n, &g.target)?;
            let uid = self.listed.get(who).and_then(|l| l.uid);
            let Some(m) = uid
                .and_then(|uid| self.st.users.get_mut(uid as usize))
                .and_then(|u| u.memberships.iter_mut().find(|m| m.org == oid))
            else {
                let org = self.st.org(oid).map_or("", |o| &o.slug);
                return Err(JsonPathError::new(
                    at("grants", n),
                    format!(
                        "`{}` holds a grant in `{org}` but no membership of it",
                        self.email_of(who).to_ascii_lowercase()
                    ),
                ));
            };
            let dup = match pid {
                None => m.org_wide.is_some(),
                // In a snapshot `to_json` wrote, a member's grants come in project order:
                // appending keeps them sorted. Otherwise a sorted insertion finds duplicates.
                Some(pid) => match m.grants.last() {
                    Some(last) if last.project >= pid => {
                        m.grants.binary_search_by_key(&pid, |g| g.project).is_ok()
                    }
                    _ => false,
                },
            };
            if dup {
                let user = self.email_of(who).to_ascii_lowercase();
                return Err(JsonPathError::new(
                    at("grants", n),
                    format!("duplicate grant of `{user}` on `{}`", g.target),
                ));
            }
            let by = g
                .granted_by
                .as_deref()
                .map(|s| email(|| field("grants", n, "granted_by"), s))
                .transpose()?;
            let grant = Grant::new(
                g.role,
                g.expires,
                g.reason.as_deref(),
                by.as_deref(),
                g.granted_at,
            )
            .with_review_by(g.review_by);
            match pid {
                None => m.org_wide = Some(Box::new(grant)),
                Some(pid) => {
                    if m.grants.capacity() == 0 {
                        // Room for this member's run of grants in the org, so the vector is
                        // allocated once and exactly (not grown by doubling: fewer copies and
                        // no unused capacity kept per membership).
                        m.grants.reserve_exact(grant_run(grants, i));
                    }
                    let at = m.grants.partition_point(|g| g.project < pid);
                    m.grants.insert(at, grant.on(pid));
                }
            }
        }
        Ok(())
    }

    /// Resources, API keys, templates, requests and campaigns.
    pub(super) fn rest(&mut self, doc: &Doc<'_>) -> Result<(), JsonPathError> {
        self.st.targets.reserve(doc.resources.len());
        for (i, r) in doc.resources.iter().enumerate() {
            let path = || field("resources", i, "id");
            let (pid, kind) =
                resource_id(&r.id, &self.projects).map_err(|m| JsonPathError::new(path(), m))?;
            if self.st.targets.contains_key(r.id.as_str()) {
                return Err(JsonPathError::new(
                    path(),
                    format!("duplicate resource `{}`", r.id),
                ));
            }
            let who = self.known(|| field("resources", i, "owner"), &r.owner)?;
            let owner = self.user(who);
            let rid = u32::try_from(self.st.resources.len()).unwrap_or(u32::MAX);
            self.st.resources.push(Some(ResourceRec {
                id: r.id.as_str().into(),
                project: pid,
                kind,
                owner,
            }));
            if let Some(Some(p)) = self.st.projects.get_mut(pid as usize) {
                p.resources.insert(rid);
            }
            self.st
                .targets
                .insert(r.id.as_str().into(), TargetRef::Resource(rid));
        }

        for (i, k) in doc.api_keys.iter().enumerate() {
            api_key(self, i, k)?;
        }
        governance(&mut self.st, doc)?;
        super::campaigns::read(&mut self.st, &doc.campaigns)?;
        Ok(())
    }

    /// The state: the remaining users made, vectors sized, the check-path indexes built.
    pub(super) fn finish(mut self) -> State {
        // Users without a membership (they left, or were removed) nor a resource.
        for i in 0..self.listed.len() {
            self.user(i);
        }
        for u in &mut self.st.users {
            // Sized exactly, as grants made one at a time are: most members hold a handful.
            u.memberships.shrink_to_fit();
            for m in &mut u.memberships {
                m.grants.shrink_to_fit();
            }
        }
        self.st.rebuild_hot();
        self.st
    }
}

/// Restores the custom templates and the access requests.
fn governance(st: &mut State, doc: &Doc<'_>) -> Result<(), JsonPathError> {
    for (i, t) in doc.templates.iter().enumerate() {
        let grants: Vec<(String, String)> = t
            .grants
            .iter()
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        let def = templates::validate(
            &t.name,
            t.org_role.as_str(),
            &grants,
            t.external,
            t.requires_expiry,
        )
        .map_err(|e| invalid(at("templates", i), &e))?;
        if templates::builtin(&def.name).is_some() || st.templates.contains_key(&def.name) {
            return Err(JsonPathError::new(
                field("templates", i, "name"),
                format!("template `{}` already exists", def.name),
            ));
        }
        st.templates.insert(def.name.clone(), def);
    }
    for (i, r) in doc.access_requests.iter().enumerate() {
        if r.id.trim().is_empty() || st.requests.iter().any(|x| x.id == r.id) {
            return Err(JsonPathError::new(
                field("access_requests", i, "id"),
                format!("missing or duplicate request id `{}`", r.id.escape_debug()),
            ));
        }
        // The requester: an email, or the pseudonym of an erased user.
        let user = email(|| field("access_requests", i, "user"), &r.user)?;
        ids::grant_target("target", &r.target)
            .map_err(|e| invalid(field("access_requests", i, "target"), &e))?;
        let status = RequestStatus::parse("status", &r.status)
            .map_err(|e| invalid(field("access_requests", i, "status"), &e))?;
        let decided_by = r
            .decided_by
            .as_deref()
            .map(|s| email(|| field("access_requests", i, "decided_by"), s))
            .transpose()?;
        st.requests.push(AccessRequest {
            id: r.id.clone(),
            user,
            target: r.target.clone(),
            role: r.role,
            reason: r.reason.clone(),
            status,
            requested_at: r.requested_at,
            decided_by,
            decided_at: r.decided_at,
            decision_reason: r.decision_reason.clone(),
            expires: r.expires,
            review_by: r.review_by,
        });
    }
    Ok(())
}

/// Checks and restores one personal API key record.
fn api_key(b: &mut Builder<'_>, i: usize, k: &ApiKeyJson) -> Result<(), JsonPathError> {
    let path = |name: &str| field("api_keys", i, name);
    if !keys::is_key_id(&k.id) {
        return Err(JsonPathError::new(
            path("id"),
            format!(
                "invalid id `{}` (expected `pk_` followed by 8 to 64 hex digits)",
                k.id.escape_debug()
            ),
        ));
    }
    if b.st.keys.by_id.contains_key(k.id.as_str()) {
        return Err(JsonPathError::new(
            path("id"),
            format!("duplicate api key `{}`", k.id),
        ));
    }
    let who = b.known(|| path("user"), &k.user)?;
    let label = k.label.trim();
    if label.is_empty() {
        return Err(JsonPathError::new(path("label"), "an empty label"));
    }
    if let Some(scopes) = &k.scopes {
        if scopes.is_empty() {
            return Err(JsonPathError::new(
                path("scopes"),
                "an empty list (leave `scopes` out for an unnarrowed key)",
            ));
        }
        for (j, s) in scopes.iter().enumerate() {
            keys::validate_scope(&b.st.catalog, s).map_err(|e| {
                JsonPathError::new(format!("$.api_keys[{i}].scopes[{j}]"), e.to_string())
            })?;
        }
    }
    if let Some(projects) = &k.projects {
        if projects.is_empty() {
            return Err(JsonPathError::new(
                path("projects"),
                "an empty list (leave `projects` out for an unrestricted key)",
            ));
        }
        for (j, p) in projects.iter().enumerate() {
            ids::project_id("projects", p).map_err(|e| {
                JsonPathError::new(format!("$.api_keys[{i}].projects[{j}]"), e.to_string())
            })?;
        }
    }
    if !keys::is_hash(&k.hash) {
        return Err(JsonPathError::new(
            path("hash"),
            "invalid hash (expected `sha256$` followed by 64 lower-case hex digits)",
        ));
    }
    if k.revoked_at.is_none() && b.st.keys.by_hash.contains_key(k.hash.as_str()) {
        return Err(JsonPathError::new(
            path("hash"),
            "duplicate hash: another key holds this secret",
        ));
    }
    if !k.mask.starts_with(keys::PERSONAL_PREFIX) || k.mask.chars().count() > 16 {
        return Err(JsonPathError::new(
            path("mask"),
            format!(
                "invalid mask `{}` (expected `agp_...` and the secret's last characters)",
                k.mask.escape_debug()
            ),
        ));
    }
    let uid = b.user(who);
    b.st.keys.insert(PersonalKey {
        id: k.id.as_str().into(),
        user: uid,
        label: label.to_owned(),
        scopes: k.scopes.clone(),
        projects: k.projects.clone(),
        created_at: k.created_at,
        rotated_at: k.rotated_at,
        expires: k.expires,
        hash: k.hash.clone(),
        mask: k.mask.clone(),
        revoked_at: k.revoked_at,
    });
    Ok(())
}

/// Checks a grant target: its org id, and its project id (`None` for `org/*`).
/// The number of grants from `grants[i]` on that are to the same user (as written) on
/// projects of the same org (by the `org/` prefix of their ids): a capacity hint, exact
/// for a snapshot `to_json` wrote (grants sorted by user, then target).
fn grant_run(grants: &[GrantJson<'_>], i: usize) -> usize {
    let Some(first) = grants.get(i) else {
        return 0;
    };
    let org = |t: &str| t.split_once('/').map(|(o, _)| o.len());
    let Some(len) = org(&first.target) else {
        return 1;
    };
    let prefix = first.target.get(..=len).unwrap_or_default();
    grants.get(i..).map_or(1, |rest| {
        rest.iter()
            .take_while(|g| g.user == first.user && g.target.starts_with(prefix))
            .filter(|g| !g.target.ends_with("/*"))
            .count()
            .max(1)
    })
}

fn grant_target(
    b: &Builder<'_>,
    i: usize,
    target: &str,
) -> Result<(u32, Option<u32>), JsonPathError> {
    // A listed project or `org/*` of a listed org, as written: valid and known.
    if let Some(&pid) = b.projects.get(target) {
        if let Some(p) = b.st.project(pid) {
            return Ok((p.org, Some(pid)));
        }
    }
    if let Some(&(_, oid)) = target.strip_suffix("/*").and_then(|o| b.orgs.get(o)) {
        return Ok((oid, None));
    }
    let path = || field("grants", i, "target");
    let org = match ids::grant_target("target", target).map_err(|e| invalid(path(), &e))? {
        GrantTarget::AllProjects(o) => o,
        GrantTarget::Project(p) => {
            return Err(JsonPathError::new(
                path(),
                format!("unknown project `{p}` (not listed in `$.projects`)"),
            ))
        }
    };
    Err(JsonPathError::new(
        path(),
        format!("unknown organization `{org}` (not listed in `$.orgs`)"),
    ))
}

/// Checks a resource id `org/project/kind/id` whose project is listed: the project's id
/// and the kind.
fn resource_id(id: &str, projects: &Map<&str, u32>) -> Result<(u32, ResourceKind), String> {
    let mut parts = id.splitn(4, '/');
    let (Some(o), Some(p), Some(k), Some(local)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "invalid resource id `{}` (expected `org/project/kind/id`)",
            id.escape_debug()
        ));
    };
    let project = format!("{o}/{p}");
    ids::project_id("id", &project).map_err(|e| e.to_string())?;
    let kind = ids::resource_kind("kind", k).map_err(|e| e.to_string())?;
    ids::resource_local_id("id", local).map_err(|e| e.to_string())?;
    match projects.get(project.as_str()) {
        Some(&pid) => Ok((pid, kind)),
        None => Err(format!(
            "unknown project `{project}` (not listed in `$.projects`)"
        )),
    }
}
