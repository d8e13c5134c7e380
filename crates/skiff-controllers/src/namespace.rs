//! (being written)

/// Runs this loop until it fails.
pub async fn run(client: kube::Client) -> Result<(), crate::Error> {
    let _ = client;
    std::future::pending::<()>().await;
    Ok(())
}
