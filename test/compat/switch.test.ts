import { describe, expect, test } from "bun:test";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { MOCK_REPLY, MOCK_TOOL_INPUT } from "../support/mock-upstream.ts";
import { compatClient, compatGateway, weatherTool } from "./harness.ts";

const MODELS = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "google-ai-studio/gemini-2.5-flash", "workers-ai/@cf/meta/llama-3.1-8b-instruct"];

describe("one program, only the openai package, four providers by the model string", () => {
  for (const model of MODELS) {
    test(`${model}: a completion, a stream, and a tool call answered back`, async () => {
      await using t = await compatGateway();
      const client = compatClient(t);
      const messages: ChatCompletionMessageParam[] = [{ role: "user", content: "What's the weather in Paris?" }];

      const plain = await client.chat.completions.create({ model, messages: [{ role: "user", content: "hello" }] });
      let streamed = "";
      for await (const chunk of await client.chat.completions.create({ model, messages: [{ role: "user", content: "hello" }], stream: true })) {
        streamed += chunk.choices[0]?.delta.content ?? "";
      }
      const asked = await client.chat.completions.stream({ model, messages, tools: [weatherTool] }).finalChatCompletion();
      const call = asked.choices[0].message.tool_calls![0] as { id: string; function: { name: string; arguments: string } };
      messages.push(asked.choices[0].message, { role: "tool", tool_call_id: call.id, content: JSON.stringify({ temperature: 18 }) });
      const answered = await client.chat.completions.create({ model, messages, tools: [weatherTool] });

      expect([plain.choices[0].message.content, streamed]).toEqual([MOCK_REPLY, MOCK_REPLY]);
      expect([asked.choices[0].finish_reason, call.function.name, JSON.parse(call.function.arguments)]).toEqual(["tool_calls", "get_weather", MOCK_TOOL_INPUT]);
      expect([answered.choices[0].finish_reason, answered.choices[0].message.content]).toEqual(["stop", MOCK_REPLY]);
      const provider = model.slice(0, model.indexOf("/"));
      expect((await t.logs()).map((log) => [log.request_type, log.provider, log.success])).toEqual(Array(4).fill(["compat", provider, true]));
    });
  }
});
