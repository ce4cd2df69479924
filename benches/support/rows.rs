//! The situations of the default matrix the benchmark counts requests for:
//! the seed rows and the cases the seed leaves open, each set up in the
//! fake HubSpot (the client's existing records) with the call that hits it.

use crate::common::calls::{Call, STRANGER_SIP};
use crate::common::world::World;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    NewClient,
    Responsible,
    OtherManager,
    MissedNewClient,
    MissedExistingClient,
    Outgoing,
    UnknownEmployee,
    NoOpenDeal,
    OutgoingNewNumber,
    OutgoingNotAnswered,
    NoNumber,
}

impl Row {
    pub const ALL: [Row; 11] = [
        Row::NewClient,
        Row::Responsible,
        Row::OtherManager,
        Row::MissedNewClient,
        Row::MissedExistingClient,
        Row::Outgoing,
        Row::UnknownEmployee,
        Row::NoOpenDeal,
        Row::OutgoingNewNumber,
        Row::OutgoingNotAnswered,
        Row::NoNumber,
    ];

    pub fn label(&self) -> &'static str {
        match self {
            Row::NewClient => "1: incoming, answered, new client",
            Row::Responsible => "2a: answered by the responsible manager",
            Row::OtherManager => "2b: answered by another manager",
            Row::MissedNewClient => "3: missed, new client",
            Row::MissedExistingClient => "4: missed, existing client",
            Row::Outgoing => "5: outgoing, answered, existing client",
            Row::UnknownEmployee => "6: unknown employee",
            Row::NoOpenDeal => "existing client, no open deal",
            Row::OutgoingNewNumber => "outgoing to an unknown number",
            Row::OutgoingNotAnswered => "outgoing, not answered",
            Row::NoNumber => "hidden number",
        }
    }

    /// A second identical call is the same row again, with the client
    /// now in the lookup cache. (After a new client's first call the
    /// second is another row.)
    pub fn repeats(&self) -> bool {
        !matches!(
            self,
            Row::NewClient | Row::MissedNewClient | Row::NoOpenDeal | Row::OutgoingNewNumber
        )
    }

    /// Seeds what the CRM knows about the client at `phone` (E.164 without
    /// the `+`), and returns the call that meets this row.
    pub async fn prepare(&self, world: &World, phone: &str) -> Call {
        let typed = format!("+{phone}");
        let (olena, petro) = (world.owners.olena.as_str(), world.owners.petro.as_str());
        match self {
            Row::NewClient => Call::incoming(phone),
            Row::Responsible => {
                existing_client(world, &typed, olena).await;
                Call::incoming(phone)
            }
            Row::OtherManager => {
                existing_client(world, &typed, petro).await;
                Call::incoming(phone)
            }
            Row::MissedNewClient => Call::incoming(phone).missed(),
            Row::MissedExistingClient => {
                existing_client(world, &typed, petro).await;
                Call::incoming(phone).missed()
            }
            Row::Outgoing => {
                existing_client(world, &typed, olena).await;
                Call::outgoing(phone)
            }
            Row::UnknownEmployee => Call::incoming(phone).answered_by(STRANGER_SIP),
            Row::NoOpenDeal => {
                let contact = world.seed_contact(&typed, "Existing Client", None);
                world.seed_closed_deal(&contact, "Last year's deal");
                Call::incoming(phone)
            }
            Row::OutgoingNewNumber => Call::outgoing(phone),
            Row::OutgoingNotAnswered => {
                existing_client(world, &typed, olena).await;
                Call::outgoing(phone).not_answered()
            }
            Row::NoNumber => Call::incoming("anonymous"),
        }
    }
}

/// A contact and its open deal, both owned by `owner`.
async fn existing_client(world: &World, phone: &str, owner: &str) {
    let contact = world.seed_contact(phone, "Existing Client", Some(owner));
    world
        .seed_open_deal(&contact, "Existing deal", Some(owner))
        .await;
}
