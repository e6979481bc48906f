//! Access review campaigns through the public Rust API: a journal replays them, a
//! snapshot round-trips them, decisions need a reviewer with authority.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first surprise, loudly"
)]

mod common;

use accessgraph::graph::{NewProject, OpenOptions};
use accessgraph::{Error, Graph};
use common::{days, nm, temp_dir, T0};

const JANE: &str = "jane@example.com";
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

fn build(g: &Graph) {
    g.set_time(Some(T0));
    g.add_org("acme", Some("Acme"), JANE, None).unwrap();
    g.add_project("acme/web", NewProject::default(), None)
        .unwrap();
    g.add_member(ALICE, "acme", nm("admin"), Some(JANE))
        .unwrap();
    g.add_member(BOB, "acme", nm("member"), Some(ALICE))
        .unwrap();
    g.grant(BOB, "acme/web", "viewer", None, None, Some(ALICE))
        .unwrap();
}

#[test]
fn a_journal_replays_a_campaign_and_its_revocations() {
    let dir = temp_dir("campaigns");
    let path = dir.join("access.journal");
    let (g, _) = Graph::open(&path, &OpenOptions::default()).unwrap();
    build(&g);
    let c = g
        .start_campaign("acme", &[ALICE.to_owned()], days(30), Some(JANE))
        .unwrap();
    assert_eq!(c.id, "camp_1");
    assert_eq!(c.items.len(), 4); // alice, bob, jane; bob's grant
    let grant = c
        .items
        .iter()
        .find(|i| i.spec.target == "acme/web")
        .unwrap()
        .id;
    g.decide_campaign_item("camp_1", grant, false, Some("not needed"), Some(ALICE))
        .unwrap();
    let closed = g.close_campaign("camp_1", Some(JANE)).unwrap();
    assert_eq!(closed.closed.as_ref().unwrap().revoked, vec![grant]);
    assert!(g.grants(Some(BOB), None).unwrap().is_empty());
    drop(g);

    let (again, _) = Graph::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(again.campaign("camp_1").unwrap(), closed);
    assert!(again.grants(Some(BOB), None).unwrap().is_empty());
}

#[test]
fn a_snapshot_round_trips_campaigns() {
    let g = Graph::new();
    build(&g);
    g.start_campaign("acme", &[ALICE.to_owned()], days(30), None)
        .unwrap();
    g.decide_campaign_item("camp_1", 2, true, Some("still needed"), Some(ALICE))
        .unwrap();
    let text = accessgraph::registry::json::to_json(&g).unwrap();
    let back = accessgraph::registry::json::from_json(&text).unwrap();
    assert_eq!(back.campaigns(None), g.campaigns(None));
    assert_eq!(accessgraph::registry::json::to_json(&back).unwrap(), text);
}

#[test]
fn only_a_reviewer_with_authority_decides() {
    let g = Graph::new();
    build(&g);
    g.start_campaign(
        "acme",
        &[ALICE.to_owned(), BOB.to_owned()],
        days(30),
        Some(JANE),
    )
    .unwrap();
    // bob is a reviewer but may not remove alice (an admin), nor review himself
    for item in [1, 2] {
        let e = g
            .decide_campaign_item("camp_1", item, false, None, Some(BOB))
            .unwrap_err();
        assert!(matches!(e, Error::Permission(_)), "{e}");
    }
    // jane may, but is not a reviewer
    let e = g
        .decide_campaign_item("camp_1", 2, false, None, Some(JANE))
        .unwrap_err();
    assert!(e.to_string().contains("not a reviewer"), "{e}");
    assert!(g
        .campaign("camp_1")
        .unwrap()
        .items
        .iter()
        .all(|i| i.decision.is_none()));
}
