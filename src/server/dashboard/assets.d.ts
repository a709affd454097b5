// The dashboard's browser files, imported with `{ type: "text" }` so `bun build --compile` embeds them as strings.
declare module "*.client.js" {
  const text: string;
  export default text;
}
declare module "*.css" {
  const text: string;
  export default text;
}
