//! An in-memory ledger: enough behaviour to show the contract at work.

use lanyard::pb::examples::ledger::v1::{
    ledger_service_server::LedgerService, Balance, Entry, GetBalanceRequest, ListEntriesRequest, PostEntryRequest,
};
use lanyard::verify::VerifiedToken;
use std::pin::Pin;
use std::sync::Mutex;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

#[derive(Default)]
pub struct Ledger {
    entries: Mutex<Vec<Entry>>,
}

fn caller<T>(request: &Request<T>) -> String {
    request.extensions().get::<VerifiedToken>().map(|t| t.subject().to_owned()).unwrap_or_default()
}

#[tonic::async_trait]
impl LedgerService for Ledger {
    async fn post_entry(&self, request: Request<PostEntryRequest>) -> Result<Response<Entry>, Status> {
        let by = caller(&request);
        let r = request.into_inner();
        if r.amount_minor < 0 {
            return Err(Status::invalid_argument(format!("amount_minor must not be negative, not {}", r.amount_minor)));
        }
        let mut entries = self.entries.lock().expect("lock");
        let entry = Entry {
            entry_id: format!("entry-{} by {by}", entries.len() + 1),
            debit_account_id: r.debit_account_id,
            credit_account_id: r.credit_account_id,
            amount_minor: r.amount_minor,
            currency: r.currency,
        };
        entries.push(entry.clone());
        Ok(Response::new(entry))
    }

    async fn get_balance(&self, request: Request<GetBalanceRequest>) -> Result<Response<Balance>, Status> {
        let r = request.into_inner();
        let entries = self.entries.lock().expect("lock");
        let amount = entries
            .iter()
            .map(|e| {
                (if e.credit_account_id == r.account_id { e.amount_minor } else { 0 })
                    - (if e.debit_account_id == r.account_id { e.amount_minor } else { 0 })
            })
            .sum();
        Ok(Response::new(Balance { account_id: r.account_id, amount_minor: amount, currency: r.currency }))
    }

    type ListEntriesStream = Pin<Box<dyn Stream<Item = Result<Entry, Status>> + Send>>;

    async fn list_entries(
        &self,
        request: Request<ListEntriesRequest>,
    ) -> Result<Response<Self::ListEntriesStream>, Status> {
        let account = request.into_inner().account_id;
        let matching: Vec<Result<Entry, Status>> = self
            .entries
            .lock()
            .expect("lock")
            .iter()
            .filter(|e| account.is_empty() || e.debit_account_id == account || e.credit_account_id == account)
            .cloned()
            .map(Ok)
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(matching))))
    }
}
