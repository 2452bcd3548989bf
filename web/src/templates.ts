// Starter agents: a spec that compiles and a few cases that test it, so a first agent runs in a
// minute. Each is only a starting point; everything is editable after creation.
import type { SpecBlocks, TestCaseSpec } from "./api/client";

export interface Template {
  id: string;
  name: string;
  description: string;
  spec: SpecBlocks;
  cases: TestCaseSpec[];
}

export const TEMPLATES: Template[] = [
  {
    id: "support",
    name: "Support agent",
    description: "Answers customers' questions politely and hands over what it cannot solve.",
    spec: {
      mission: {
        problem: "Answer customers' questions about their orders",
        success_criteria: ["answers in under 120 words", "names the order number when one is given"],
      },
      audience: { description: "customers of an online shop, often in a hurry" },
      persona: { role: "customer support agent", voice: "warm, brief and precise" },
      constraints: {
        must: ["ask for the order number when it is missing"],
        must_not: ["promise refunds"],
      },
      workflow: { steps: ["Understand the question", "Answer it", "Offer a next step"] },
      escalation: { when: "the customer asks for a refund", action: "hand over to a person" },
    },
    cases: [
      {
        description: "greets the customer",
        input: "Hello, where is my order 1234?",
        assert: [{ type: "icontains", value: "1234" }],
      },
      {
        description: "names the order it answers about",
        input: "Has order 5521 shipped yet?",
        assert: [{ type: "icontains", value: "5521" }, { type: "not-icontains", value: "refund" }],
      },
    ],
  },
  {
    id: "extractor",
    name: "Data extractor",
    description: "Reads a message and returns the fields it finds as JSON.",
    spec: {
      mission: {
        problem: "Extract the sender's name and email address from a message",
        success_criteria: ["returns valid JSON with the keys name and email"],
      },
      persona: { role: "data extraction service", voice: "terse" },
      output: {
        format: "JSON",
        length: "one object",
        json_schema: {
          type: "object",
          properties: { name: { type: "string" }, email: { type: "string" } },
          required: ["name", "email"],
        },
      },
      constraints: { must: ["answer with JSON only"], must_not: ["invent an address"] },
    },
    cases: [
      {
        description: "answers JSON",
        input: "Hi, this is Ada Lovelace (ada@example.com).",
        assert: [{ type: "is-json" }],
      },
    ],
  },
];
