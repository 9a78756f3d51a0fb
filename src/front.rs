//! The front end, written once.
//!
//! [`front_end!`] holds the body of every public method of [`crate::Tasks`],
//! [`crate::Task`] and [`crate::TaskListItem`]. It is expanded twice: in
//! [`crate::blocking`] under `#[maybe_async::must_be_sync]` with the ureq
//! transport (`update`, `get`, …) and in [`crate::nonblocking`] under
//! `#[maybe_async::must_be_async]` with the reqwest transport (`aupdate`,
//! `aget`, …). Each expansion names its own transport, whose `send` and
//! `sleep` have the same names and signatures; `must_be_sync` strips the
//! `async` and `.await`. The bodies stay thin: build the request in
//! [`crate::core::request`], send it (retrying as [`crate::core::retry`]
//! decides), parse the answer in [`crate::core::response`].

macro_rules! front_end {
    (
        mode: $mode:meta,
        transport: $transport:ident,
        execute: $execute:ident,
        $(#[$update_doc:meta])* update: $update:ident,
        $(#[$get_doc:meta])* get: $get:ident,
        $(#[$stop_doc:meta])* stop: $stop:ident,
        $(#[$create_doc:meta])* create: $create:ident,
        $(#[$list_doc:meta])* list: $list:ident,
        $(#[$list_user_doc:meta])* list_user_tasks: $list_user_tasks:ident,
        $(#[$report_doc:meta])* report_external_task: $report:ident,
        $(#[$conflict_doc:meta])* retry_on_conflict: $retry_on_conflict:ident,
        $(#[$load_doc:meta])* load: $load:ident,
        $(#[$reload_doc:meta])* reload: $reload:ident,
        $(#[$save_doc:meta])* save: $save:ident,
        $(#[$save_deep_doc:meta])* save_with_deep_plan_update: $save_deep:ident,
        $(#[$set_status_doc:meta])* set_status: $set_status:ident,
        $(#[$stop_task_doc:meta])* stop_task: $stop_task:ident,
        $(#[$load_item_doc:meta])* load_item: $load_item:ident,
    ) => {
        use crate::core::retry::{Conflicts, Retrier, Step};
        use crate::core::request::Saving;
        use crate::model::{AgentExecutionStatus, Task, TaskListItem};
        use crate::params::{CreateTask, ExternalTaskReport, ListFilter, UpdateTask};
        use crate::Tasks;

        impl Tasks {
            /// Sends `request` with this view's options, trying again as
            /// the core decides (and within the call's deadline).
            #[$mode]
            async fn $execute(&self, mut request: crate::core::HttpRequest) -> Result<HttpResponse> {
                let shared = &self.inner.shared;
                let options = self.inner.options.as_ref();
                if let Some(options) = options {
                    options.apply(&mut request)?;
                }
                let transport = shared.$transport()?;
                let call = crate::telemetry::Call::start(&request);
                let mut retrier = Retrier::new(&shared.core.config, request.operation, options);
                loop {
                    let outcome = match retrier.attempt_timeout() {
                        Ok(timeout) => transport.send(&request, timeout).await,
                        Err(deadline) => {
                            let result = Err(deadline);
                            call.finish(&retrier, &result);
                            return result;
                        }
                    };
                    match retrier.step(outcome) {
                        Step::Done(result) => {
                            call.finish(&retrier, &result);
                            return result;
                        }
                        Step::Retry(wait) => {
                            call.retry(&retrier, wait);
                            crate::$transport::Transport::sleep(wait).await;
                        }
                    }
                }
            }

            $(#[$update_doc])*
            #[$mode]
            pub async fn $update(&self, task_id: &str, change: &UpdateTask) -> Result<Task> {
                let request = self.inner.shared.core.update(task_id, change)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$get_doc])*
            #[$mode]
            pub async fn $get(&self, task_id: &str) -> Result<Task> {
                let request = self.inner.shared.core.get(task_id)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$stop_doc])*
            #[$mode]
            pub async fn $stop(&self, task_id: &str) -> Result<Task> {
                let request = self.inner.shared.core.stop(task_id)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$create_doc])*
            #[$mode]
            pub async fn $create(&self, new_task: &CreateTask) -> Result<Task> {
                let request = self.inner.shared.core.create(new_task)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$list_doc])*
            #[$mode]
            pub async fn $list(&self, agent_id: &str, filter: &ListFilter) -> Result<Vec<TaskListItem>> {
                let request = self.inner.shared.core.list(agent_id, filter)?;
                self.inner.shared.core.task_list(self.$execute(request).await?)
            }

            $(#[$list_user_doc])*
            #[$mode]
            pub async fn $list_user_tasks(
                &self,
                user_id: &str,
                filter: &ListFilter,
            ) -> Result<Vec<TaskListItem>> {
                let request = self.inner.shared.core.list_user_tasks(user_id, filter)?;
                self.inner.shared.core.task_list(self.$execute(request).await?)
            }

            $(#[$report_doc])*
            #[$mode]
            pub async fn $report(&self, agent_id: &str, report: &ExternalTaskReport) -> Result<Task> {
                let request = self.inner.shared.core.report_external_task(agent_id, report)?;
                self.inner.shared.core.task(self.$execute(request).await?)
            }

            $(#[$conflict_doc])*
            #[$mode]
            pub async fn $retry_on_conflict<F>(&self, task_id: &str, mut change: F) -> Result<Task>
            where
                F: FnMut(&mut Task),
            {
                let mut conflicts = Conflicts::new();
                loop {
                    let mut task = self.$get(task_id).await?;
                    change(&mut task);
                    let request = self.inner.shared.core.save(&task, Saving::WithoutDeepPlan)?;
                    match self.$execute(request).await.and_then(|r| self.inner.shared.core.task(r)) {
                        Ok(saved) => return Ok(saved),
                        Err(error) => {
                            let wait = conflicts.after(error)?;
                            crate::$transport::Transport::sleep(wait).await;
                        }
                    }
                }
            }
        }

        impl Task {
            $(#[$load_doc])*
            #[$mode]
            pub async fn $load(tasks: &Tasks, task_id: &str) -> Result<Task> {
                tasks.$get(task_id).await
            }

            $(#[$reload_doc])*
            #[$mode]
            pub async fn $reload(&mut self, tasks: &Tasks) -> Result<()> {
                *self = tasks.$get(&self.id).await?;
                Ok(())
            }

            $(#[$save_doc])*
            #[$mode]
            pub async fn $save(&mut self, tasks: &Tasks) -> Result<()> {
                let request = tasks.inner.shared.core.save(self, Saving::WithoutDeepPlan)?;
                *self = tasks.inner.shared.core.task(tasks.$execute(request).await?)?;
                Ok(())
            }

            $(#[$save_deep_doc])*
            #[$mode]
            pub async fn $save_deep(&mut self, tasks: &Tasks) -> Result<()> {
                let request = tasks.inner.shared.core.save(self, Saving::WithDeepPlan)?;
                *self = tasks.inner.shared.core.task(tasks.$execute(request).await?)?;
                Ok(())
            }

            $(#[$set_status_doc])*
            #[$mode]
            pub async fn $set_status(
                &mut self,
                tasks: &Tasks,
                status: AgentExecutionStatus,
                result: Option<&str>,
            ) -> Result<()> {
                self.status = Some(status);
                if let Some(result) = result {
                    self.result = Some(result.to_string());
                }
                self.$save(tasks).await
            }

            $(#[$stop_task_doc])*
            #[$mode]
            pub async fn $stop_task(&mut self, tasks: &Tasks) -> Result<()> {
                *self = tasks.$stop(&self.id).await?;
                Ok(())
            }
        }

        impl TaskListItem {
            $(#[$load_item_doc])*
            #[$mode]
            pub async fn $load_item(&self, tasks: &Tasks) -> Result<Task> {
                tasks.$get(&self.id).await
            }
        }
    };
}
