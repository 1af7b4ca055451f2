"""The Query Assistant's page: ask about genes, see the MyGene.info query the model writes, the
hits and a grounded answer; edit and re-run the query, mark the answer, save corrections.

    python app.py                                  # http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080 --model qwen2.5-coder-1.5b --mode rag

Settings come from the Settings object (QA_* environment variables, .env, these flags); basic
auth from QA_AUTH=user:password. The model loads once, before the page opens; generation runs
one request at a time (other people wait in the queue and see their position) while re-runs of
edited queries, verdicts and corrections run concurrently. The logic lives in
:mod:`assistant.page`; this file lays out the page and wires its events.

API endpoints (gradio_client): /ask, /run_query, /mark_right, /mark_wrong, /save_correction,
/corrections, /export_corrections, /new_conversation.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the page

import gradio as gr  # noqa: E402

from assistant.backends import BACKENDS  # noqa: E402
from assistant.config import Settings, add_settings_arguments, settings_from_args  # noqa: E402
from assistant.errors import AssistantError, ConfigError  # noqa: E402
from assistant.logstore import InteractionLog  # noqa: E402
from assistant.page import EXAMPLES, OUTPUTS, PageService  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402
from assistant.prompts import MODES  # noqa: E402

SETTING_FLAGS = [
    "host",
    "model",
    "mode",
    "backend",
    "store_path",
    "index_dir",
    "interaction_db",
    "access_log",
    "auth",
    "query_max_tokens",
    "n_threads",
]
INTRO = (
    "# Query Assistant\nAsk about genes. A small language model writes a "
    "[MyGene.info](https://mygene.info) query, the query runs, and the answer says only what "
    "the hits say. Follow-up questions (*and in mouse?*) use the previous query."
)


def build_page(service: PageService) -> gr.Blocks:
    """The page around a ready :class:`~assistant.page.PageService` (model loaded once, in
    :func:`main`)."""
    s = service.settings
    with gr.Blocks(title="Query Assistant", analytics_enabled=False) as demo:
        state = gr.State(service.new_state)
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=260, elem_id="chat")
                question = gr.Textbox(
                    label="Question",
                    placeholder="e.g. what is the official symbol of LMP10?",
                    lines=1,
                    max_lines=4,
                    elem_id="question",
                )
                with gr.Row():
                    ask = gr.Button("Ask", variant="primary", elem_id="ask")
                    new = gr.Button("New conversation", elem_id="new-conversation")
                gr.Examples(examples=[[e] for e in EXAMPLES], inputs=[question], label="Examples")
            with gr.Column(scale=1):
                with gr.Accordion("Settings", open=True):
                    mode = gr.Dropdown(
                        list(MODES), value=service.bot.default_mode, label="Mode", elem_id="mode"
                    )
                    model = gr.Dropdown(
                        service.model_names, value=s.model, label="Model", elem_id="model"
                    )
                    backend = gr.Radio(
                        list(BACKENDS),
                        value=s.backend,
                        label="Backend",
                        info="embedded store (offline) or live mygene.info",
                        elem_id="backend",
                    )
        status = gr.Markdown(elem_id="status", container=True, min_height=56)
        answer = gr.Markdown(label="Answer", elem_id="answer", container=True)
        with gr.Row():
            query = gr.Textbox(
                label="Query (edit it and run it again)",
                lines=2,
                interactive=True,
                elem_id="query",
                scale=5,
            )
            total = gr.Number(label="Total hits", interactive=False, elem_id="total", scale=1)
        link = gr.Markdown(elem_id="link")
        with gr.Row():
            rerun = gr.Button("Run edited query", elem_id="rerun")
            right = gr.Button("✔ Right", elem_id="mark-right")
            wrong = gr.Button("✘ Wrong", elem_id="mark-wrong")
            correct = gr.Button("Save as correction", elem_id="save-correction")
        feedback = gr.Markdown(elem_id="feedback")
        table = gr.Dataframe(label="Results", interactive=False, wrap=True, elem_id="results")
        with gr.Row():
            chart = gr.Plot(label="Hits by species / type", elem_id="chart")
            ideo = gr.Plot(label="Chromosome position", elem_id="ideogram")
        with gr.Accordion("Raw JSON", open=False):
            raw = gr.JSON(elem_id="raw")
        with gr.Accordion("Retrieved context and prompt", open=False):
            context = gr.JSON(elem_id="context")
        with gr.Accordion("Timings (seconds)", open=False):
            timings = gr.JSON(elem_id="timings")
        with gr.Accordion("Recent corrections", open=False):
            corrections = gr.Dataframe(
                value=service.corrections_table, interactive=False, elem_id="corrections"
            )
            with gr.Row():
                refresh = gr.Button("Refresh", elem_id="refresh-corrections")
                export = gr.Button("Export as JSONL", elem_id="export-corrections")
            export_file = gr.File(label="Corrections (JSONL)", elem_id="export-file")

        components = {
            "status": status,
            "query": query,
            "link": link,
            "total": total,
            "answer": answer,
            "table": table,
            "chart": chart,
            "ideogram": ideo,
            "raw": raw,
            "context": context,
            "timings": timings,
            "chat": chat,
        }
        outputs = [components[name] for name in OUTPUTS] + [state]

        def lay_out(view: dict) -> list:
            values = [view.get(name, gr.skip()) for name in OUTPUTS]
            if "state" in view:
                values[OUTPUTS.index("chat")] = view["state"]["history"]
            return values + [view.get("state", gr.skip())]

        def on_ask(text, mode_, model_, backend_, state_):
            for view in service.ask(text, mode_, model_, backend_, state_):
                yield lay_out(view)

        def on_rerun(text, mode_, model_, backend_, state_):
            return lay_out(service.run_query(text, mode_, model_, backend_, state_))

        def on_export():
            try:
                return service.export_corrections()
            except AssistantError as exc:
                raise gr.Error(str(exc)) from None  # shown on the page as a message

        def on_new():
            fresh = service.new_state()
            return lay_out({**service.empty_view(), "state": fresh}) + [""]

        settings_inputs = [mode, model, backend, state]
        ask_event = dict(
            fn=on_ask,
            inputs=[question, *settings_inputs],
            outputs=outputs,
            concurrency_limit=1,  # one generation at a time; the rest queue with a position
            concurrency_id="generate",
            show_progress="full",
            show_progress_on=[status],
        )
        ask.click(**ask_event, api_name="ask")
        question.submit(**ask_event, api_visibility="private")
        rerun.click(
            on_rerun,
            [query, *settings_inputs],
            outputs,
            api_name="run_query",
            show_progress="minimal",
            show_progress_on=[status],
        )
        right.click(
            lambda st: service.verdict("right", st), [state], feedback, api_name="mark_right"
        )
        wrong.click(
            lambda st: service.verdict("wrong", st), [state], feedback, api_name="mark_wrong"
        )
        correct.click(
            service.save_correction,
            [query, state],
            [feedback, corrections],
            api_name="save_correction",
        )
        refresh.click(service.corrections_table, None, corrections, api_name="corrections")
        export.click(on_export, None, export_file, api_name="export_corrections")
        new.click(on_new, None, [*outputs, feedback], api_name="new_conversation")
    return demo


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """``"user:password"`` → ``("user", "password")``; None without auth.

    >>> parse_auth("ann:s3cret:x")
    ('ann', 's3cret:x')
    """
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError("auth must be user:password (set QA_AUTH=ann:s3cret or --auth)")
    return user, password


def launch(demo: gr.Blocks, settings: Settings, block: bool = True):
    """Serve the page on ``settings.host``:``settings.app_port`` (127.0.0.1:7860 by default)."""
    demo.queue(default_concurrency_limit=8, max_size=256)
    return demo.launch(
        server_name=settings.host,
        server_port=settings.app_port,
        auth=parse_auth(settings.auth),
        prevent_thread_lock=not block,
        show_error=False,
        ssr_mode=False,
        quiet=not block,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Serve the Query Assistant page (Gradio).",
        epilog="Every flag also reads its QA_* environment variable; see README.",
    )
    add_settings_arguments(parser, SETTING_FLAGS)
    info = Settings.model_fields["app_port"]
    parser.add_argument(
        "--port",
        dest="app_port",
        default=None,
        help=f"{info.description} (env QA_APP_PORT; default {info.default})",
    )
    parser.add_argument("--no-warm-up", action="store_true", help="Load the model on first use.")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = settings_from_args(args)
        parse_auth(settings.auth)
        bot = Assistant(settings)
        if not args.no_warm_up:
            print(
                f"loading {settings.model} ({bot.default_mode}, {settings.backend}) ...", flush=True
            )
            bot.load()
        service = PageService(bot, InteractionLog.from_settings(settings))
        service.log.setup()
        demo = build_page(service)
        print(f"Query Assistant on http://{settings.host}:{settings.app_port}", flush=True)
        launch(demo, settings)
    except AssistantError as exc:  # a refused setting too (settings_from_args)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
