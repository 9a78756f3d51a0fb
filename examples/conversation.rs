//! A multi-turn conversation through the public REST API v1, in both faces.
//!
//! ```sh
//! cargo run --example conversation --features emulator
//! ```
//!
//! Against the embedded emulator, whose built-in echo agent answers every
//! turn: a `Conversation` keeps the thread id across turns (the blocking
//! `say`, then the async `asay` on the same thread), the thread is read
//! back, a streamed invoke prints its chunks as they come, and the agent's
//! tasks are walked page by page. Against the service, build the client
//! with `Tasks::from_env()` (`XPANDER_API_KEY`, and
//! `XPANDER_PUBLIC_API_URL` when not `https://api.xpander.ai`).

use xpander_sdk::emulator::Emulator;
use xpander_sdk::public::{Conversation, Invoke, TaskQuery};
use xpander_sdk::Tasks;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start()?;
    let tasks = Tasks::builder()
        .api_key(emulator.api_key())
        .public_api_url(emulator.base_url())
        .build()?;

    // A chat loop is three lines: make the conversation, say, read.
    let mut chat = Conversation::new(&tasks, "echo-agent");
    for text in ["Hello!", "What did I just say?"] {
        let reply = chat.say(text)?;
        println!("you: {text}\nagent: {}", reply.result.unwrap_or_default());
    }
    let thread_id = chat.thread_id().unwrap_or_default().to_owned();

    // The same thread, continued from async code.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let reply = chat.asay("And once more, asynchronously").await?;
        println!("agent (async): {}", reply.result.unwrap_or_default());
        Ok::<_, xpander_sdk::Error>(())
    })?;

    // Its whole thread, as the service keeps it.
    let thread = tasks.thread(&thread_id)?;
    println!("thread {thread_id}: {} messages", thread.len());
    assert_eq!(thread.len(), 6, "three turns, two messages each");
    for message in &thread {
        let role = message.role.as_ref().map(|r| r.as_str()).unwrap_or("?");
        println!("  {role}: {}", message.content.as_deref().unwrap_or(""));
    }

    // A streamed invoke: the answer piece by piece.
    print!("streamed: ");
    for event in tasks.invoke_stream("echo-agent", &Invoke::new("streaming works"))? {
        if let Some(text) = event?.text() {
            print!("{text}");
        }
    }
    println!();

    // Every task of the agent, page by page (lazily, two per page here).
    let mut walked = 0;
    for task in tasks.agent_tasks_pages("echo-agent", &TaskQuery::new().per_page(2))? {
        let task = task?;
        walked += 1;
        println!("task {} {:?}", task.id, task.status);
    }
    assert_eq!(walked, 2, "the conversation's task and the streamed one");
    Ok(())
}
