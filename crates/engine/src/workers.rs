//! Worker sets: the first failure aborts the other workers.
use tokio::task::JoinSet;

use crate::error::Error;

/// Waits for every worker and returns their results; on the first error the
/// remaining workers are aborted and that error is returned.
pub(crate) async fn join_all<T: 'static>(
    mut set: JoinSet<Result<T, Error>>,
) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => {
                set.abort_all();
                return Err(e);
            }
            Err(e) => {
                set.abort_all();
                return Err(Error::Io {
                    path: "worker".into(),
                    source: std::io::Error::other(format!("a worker task failed: {e}")),
                });
            }
        }
    }
    Ok(out)
}
