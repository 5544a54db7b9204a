use openclaw_api::crd;
fn main() -> anyhow::Result<()> {
    for c in crd::all() {
        println!("---\n{}", serde_saphyr::to_string(&c)?);
    }
    Ok(())
}
