//! (being written)

/// Runs this loop until it fails.
pub async fn run(client: kube::Client, options: crate::Options) -> Result<(), crate::Error> {
    let _ = (client, options);
    std::future::pending::<()>().await;
    Ok(())
}
