//! A task's whole life through each face: create, list (filtered by status),
//! get, update, save, reload, stop, with every step checked against the
//! emulator's state. The body is written once for both faces.

mod common;

use serde_json::json;
use xpander_sdk::emulator::Emulator;
use xpander_sdk::{
    AgentExecutionStatus as S, CreateTask, ListFilter, OutputFormat, Task, ThinkMode, UpdateTask,
    User,
};

macro_rules! lifecycle {
    (
        $name:ident, $mode:meta, $test:meta,
        create: $create:ident, list: $list:ident, list_user: $list_user:ident,
        get: $get:ident, update: $update:ident, save: $save:ident,
        reload: $reload:ident, stop: $stop:ident, load_item: $load_item:ident,
        task_stop: $task_stop:ident, load: $load:ident
    ) => {
        #[$mode]
        #[$test]
        async fn $name() {
            let emulator = Emulator::start().unwrap();
            let tasks = common::client(&emulator);
            let user: User = serde_json::from_value(json!({"id": "u-42", "email": "dana@example.com"})).unwrap();

            // create
            let created = tasks
                .$create(
                    &CreateTask::new("agent-123", "Summarise the deck")
                        .title("deck")
                        .agent_version("12")
                        .output_format(OutputFormat::Markdown)
                        .think_mode(ThinkMode::Harder)
                        .file_urls(["https://files.example.com/deck.pdf"])
                        .user_details(user),
                )
                .await
                .unwrap();
            let id = created.id.clone();
            let stored = emulator.task(&id).expect("created on the server");
            assert_eq!(stored["agent_id"], "agent-123");
            assert_eq!(stored["input"]["text"], "Summarise the deck");
            assert_eq!(stored["agent_version"], "12");
            assert_eq!(created.title.as_deref(), Some("deck"));
            assert_eq!(created.status, Some(S::Pending));

            // list, filtered by status; the user's list finds it too
            let pending = tasks
                .$list("agent-123", &ListFilter::new().status(S::Pending))
                .await
                .unwrap();
            assert_eq!(pending.iter().filter(|t| t.id == id).count(), 1);
            let completed = tasks
                .$list("agent-123", &ListFilter::new().status(S::Completed))
                .await
                .unwrap();
            assert!(completed.iter().all(|t| t.id != id));
            let mine = tasks.$list_user("u-42", &ListFilter::new()).await.unwrap();
            assert_eq!(mine.len(), 1);
            let item = &pending[0];
            let loaded_from_item = item.$load_item(&tasks).await.unwrap();
            assert_eq!(loaded_from_item.id, id);

            // get
            let mut task = tasks.$get(&id).await.unwrap();
            // (`.await` stays outside macro calls: must_be_sync cannot see into them.)
            let loaded = Task::$load(&tasks, &id).await.unwrap();
            assert_eq!(task, loaded);
            assert_eq!(task.input.files, ["https://files.example.com/deck.pdf"]);

            // update
            let updated = tasks
                .$update(&id, &UpdateTask::new().status(S::Executing).source("cron"))
                .await
                .unwrap();
            assert_eq!(updated.status, Some(S::Executing));
            assert_eq!(emulator.task(&id).unwrap()["status"], "executing");
            assert_eq!(emulator.task(&id).unwrap()["source"], "cron");

            // save: the local copy was loaded before the update; reload first
            task.$reload(&tasks).await.unwrap();
            assert_eq!(task.status, Some(S::Executing));
            task.result = Some("Three risks".into());
            task.status = Some(S::Completed);
            task.$save(&tasks).await.unwrap();
            let stored = emulator.task(&id).unwrap();
            assert_eq!(stored["result"], "Three risks");
            assert_eq!(stored["status"], "completed");
            assert_eq!(stored["source"], "cron", "save keeps what the update set");

            // reload sees a change made elsewhere
            tasks
                .$update(&id, &UpdateTask::new().last_executed_node_id("node-9"))
                .await
                .unwrap();
            task.$reload(&tasks).await.unwrap();
            assert_eq!(task.last_executed_node_id.as_deref(), Some("node-9"));

            // list by the new status
            let completed = tasks
                .$list("agent-123", &ListFilter::new().status(S::Completed))
                .await
                .unwrap();
            assert_eq!(completed.len(), 1);

            // stop, on the module and on a loaded task
            let stopped = tasks.$stop(&id).await.unwrap();
            assert_eq!(stopped.status, Some(S::Stopped));
            assert!(stopped.is_manually_stopped);
            let stored = emulator.task(&id).unwrap();
            assert_eq!(stored["status"], "stopped");
            assert_eq!(stored["is_manually_stopped"], true);
            task.$task_stop(&tasks).await.unwrap();
            assert_eq!(task.status, Some(S::Stopped));
        }
    };
}

lifecycle!(
    lifecycle_blocking, maybe_async::must_be_sync, test,
    create: create, list: list, list_user: list_user_tasks, get: get, update: update,
    save: save, reload: reload, stop: stop, load_item: load, task_stop: stop, load: load
);

lifecycle!(
    lifecycle_async, maybe_async::must_be_async, tokio::test(flavor = "multi_thread", worker_threads = 2),
    create: acreate, list: alist, list_user: alist_user_tasks, get: aget, update: aupdate,
    save: asave, reload: areload, stop: astop, load_item: aload, task_stop: astop, load: aload
);
