//! The script: create, update, get and list tasks on the blocking face.
use xpander_sdk::{AgentExecutionStatus as Status, CreateTask, ListFilter, Tasks, UpdateTask};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tasks = Tasks::from_env()?;
    let task = tasks.create(&CreateTask::new("agent-1", "Summarise Q3"))?;
    let done = UpdateTask::new()
        .status(Status::Completed)
        .result("Revenue up 12%");
    tasks.update(&task.id, &done)?;
    let task = tasks.get(&task.id)?;
    println!("{}: {:?} {:?}", task.id, task.status, task.result);
    let listed = tasks.list("agent-1", &ListFilter::new())?;
    println!("agent-1 has {} task(s)", listed.len());
    Ok(())
}
