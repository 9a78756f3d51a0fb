use xpander_sdk::emulator::Emulator;
use xpander_sdk::{AgentExecutionStatus as Status, CreateTask, ListFilter, Tasks, UpdateTask};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::start()?; // the API, locally: no account, no network
    let tasks = Tasks::builder()
        .base_url(emulator.base_url())
        .api_key(emulator.api_key())
        .organization_id(emulator.organization_id())
        .build()?;
    let task = tasks.create(&CreateTask::new("agent-1", "Summarise Q3").events_streaming(true))?;
    let done = UpdateTask::new()
        .status(Status::Completed)
        .result("Revenue up 12%");
    tasks.update(&task.id, &done)?;
    let task = tasks.get(&task.id)?;
    println!("{}: {:?} {:?}", task.id, task.status, task.result);
    let listed = tasks.list("agent-1", &ListFilter::new())?;
    println!("agent-1 has {} task(s)", listed.len());
    for event in task.events(&tasks)? {
        println!("event {:?}", event?.kind); // a finished task replays its finish, then ends
    }
    Ok(())
}
