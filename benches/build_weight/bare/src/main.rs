//! The same script by hand: create, update, get and list tasks with ureq.
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
struct Task {
    id: String,
    status: Option<String>,
    result: Option<String>,
}

#[derive(Serialize)]
struct Create<'a> {
    input: Input<'a>,
}

#[derive(Serialize)]
struct Input<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct Update<'a> {
    status: &'a str,
    result: &'a str,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("XPANDER_BASE_URL")?;
    let key = std::env::var("XPANDER_API_KEY")?;
    let agent = ureq::agent();
    let task: Task = agent
        .post(format!("{base}/agent-execution/agent-1"))
        .header("x-api-key", &key)
        .send_json(Create {
            input: Input {
                text: "Summarise Q3",
            },
        })?
        .body_mut()
        .read_json()?;
    let done = Update {
        status: "completed",
        result: "Revenue up 12%",
    };
    agent
        .patch(format!("{base}/agent-execution/{}/update", task.id))
        .header("x-api-key", &key)
        .send_json(&done)?;
    let task: Task = agent
        .get(format!("{base}/agent-execution/{}/status", task.id))
        .header("x-api-key", &key)
        .call()?
        .body_mut()
        .read_json()?;
    println!("{}: {:?} {:?}", task.id, task.status, task.result);
    let listed: Vec<serde_json::Value> = agent
        .get(format!("{base}/agent-execution/executions/history/agent-1"))
        .header("x-api-key", &key)
        .call()?
        .body_mut()
        .read_json()?;
    println!("agent-1 has {} task(s)", listed.len());
    Ok(())
}
