#![allow(clippy::unwrap_used, missing_docs)]
use accessgraph::graph::{NewMember, NewProject};
use accessgraph::registry::markdown;
use accessgraph::Graph;
#[test]
fn perf() {
    let g = Graph::new();
    g.add_org("big", Some("Big"), "o@big.io", None).unwrap();
    for p in 0..20 { g.add_project(&format!("big/p{p}"), NewProject{ name: Some(format!("Project {p}")), ..NewProject::default()}, None).unwrap(); }
    let t = std::time::Instant::now();
    for u in 0..100_000 {
        let e = format!("user{u}@big.io");
        g.add_member(&e, "big", NewMember{ title: Some("Eng".into()), ..NewMember::default()}, None).unwrap();
        for k in 0..10 { g.grant(&e, &format!("big/p{}", (u + k * 7) % 20), "member", None, None, None).unwrap(); }
    }
    eprintln!("build {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let text = markdown::export(&g, "big").unwrap();
    eprintln!("export {:?} {} bytes", t.elapsed(), text.len());
    let t = std::time::Instant::now();
    let reg = markdown::parse(&text, Some("big")).unwrap();
    eprintln!("parse {:?}", t.elapsed());
    let g2 = Graph::new();
    let t = std::time::Instant::now();
    markdown::import(&g2, &reg).unwrap();
    eprintln!("import {:?}", t.elapsed());
}
