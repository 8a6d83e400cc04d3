//! The one worker pool every parallel path uses (dump's COPY readers,
//! `restore -j`'s loaders and index builders): a shared queue of work items,
//! workers in a `JoinSet`, and the first failure aborting the others.
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use crate::error::Error;

/// Work items shared by the workers of one [`run`]; each takes the next.
#[derive(Debug)]
pub(crate) struct Queue<T>(Arc<Mutex<VecDeque<T>>>);

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue(self.0.clone())
    }
}

impl<T> Queue<T> {
    /// The next item, in the order given; `None` when all are taken.
    pub(crate) fn next(&self) -> Option<T> {
        self.0.lock().ok().and_then(|mut q| q.pop_front())
    }
}

/// Runs `workers` copies of `worker` (each given its number, from 0, and
/// the queue of `items`) and returns their results; on the first error the
/// remaining workers are aborted and that error is returned.
pub(crate) async fn run<T, R, F, Fut>(
    workers: usize,
    items: impl IntoIterator<Item = T>,
    worker: F,
) -> Result<Vec<R>, Error>
where
    R: Send + 'static,
    F: Fn(usize, Queue<T>) -> Fut,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
{
    let queue = Queue(Arc::new(Mutex::new(items.into_iter().collect())));
    let mut set = JoinSet::new();
    for w in 0..workers.max(1) {
        set.spawn(worker(w, queue.clone()));
    }
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
                return Err(Error::worker(e));
            }
        }
    }
    Ok(out)
}
