// The pose editor's browser half (gr.HTML js_on_load: `element`, `props`, `trigger`, `watch` are gradio's).
// props.value is OpenPose JSON in canvas pixels ({people, canvas_width, canvas_height}) plus `selected` (a person's
// number). The skeletons are drawn as SVG in controlnet-aux's colours; dragging a point moves it, and on release the
// new JSON goes to the server ('posed'), which draws the real map with controlnet-aux. Clicking a point selects its
// person for Delete, Mirror, Smaller and Larger. Written by hand: no library is loaded (the studio runs offline).
const SVG = "http://www.w3.org/2000/svg";
const LIMBS = [[2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12], [12, 13], [13, 14],
  [2, 1], [1, 15], [15, 17], [1, 16], [16, 18]];  // 1-based OpenPose-18 pairs, as controlnet-aux draws them
const COLOURS = ["255,0,0", "255,85,0", "255,170,0", "255,255,0", "170,255,0", "85,255,0", "0,255,0", "0,255,85",
  "0,255,170", "0,255,255", "0,170,255", "0,85,255", "0,0,255", "85,0,255", "170,0,255", "255,0,255", "255,0,170",
  "255,0,85"];
const HAND_EDGES = [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10], [10, 11],
  [11, 12], [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18], [18, 19], [19, 20]];
const PARTS = {body: "pose_keypoints_2d", left_hand: "hand_left_keypoints_2d", right_hand: "hand_right_keypoints_2d",
  face: "face_keypoints_2d"};

const svg = element.querySelector("svg.pose-svg");
const hint = element.querySelector(".pose-hint");
let drag = null;  // {part, person, joint, circle}

function pose() { return props.value && Array.isArray(props.value.people) ? props.value : null; }

function point(values, index) {
  if (!values || values[index * 3 + 2] <= 0) return null;
  return [values[index * 3], values[index * 3 + 1]];
}

function add(tag, attributes, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  (parent || svg).appendChild(node);
  return node;
}

function line(a, b, colour, width, parent) {
  add("line", {x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: `rgb(${colour})`, "stroke-width": width,
    "stroke-linecap": "round", "stroke-opacity": 0.6}, parent);
}

function draw() {
  svg.replaceChildren();
  const value = pose();
  if (!value) {
    svg.setAttribute("viewBox", "0 0 512 512");
    hint.textContent = "No pose yet: pick an OpenPose preprocessor with a control image, press Add person, or import a pose JSON.";
    return;
  }
  const width = value.canvas_width, height = value.canvas_height, size = Math.max(width, height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.dataset.width = width;
  svg.dataset.height = height;
  add("rect", {x: 0, y: 0, width, height, fill: "#000"});
  const radius = Math.max(4, size / 90);
  value.people.forEach((person, number) => {
    const group = add("g", {"data-person": number, class: number === value.selected ? "pose-selected" : ""});
    const body = person[PARTS.body];
    LIMBS.forEach(([a, b], index) => {
      const p = point(body, a - 1), q = point(body, b - 1);
      if (p && q) line(p, q, COLOURS[index], radius * 1.4, group);
    });
    for (const hand of ["left_hand", "right_hand"]) {
      const values = person[PARTS[hand]];
      HAND_EDGES.forEach(([a, b]) => {
        const p = point(values, a), q = point(values, b);
        if (p && q) line(p, q, "0,128,255", radius / 2, group);
      });
    }
    for (const [part, key] of Object.entries(PARTS)) {
      const values = person[key];
      if (!values) continue;
      for (let joint = 0; joint < values.length / 3; joint++) {
        const at = point(values, joint);
        if (!at) continue;
        const colour = part === "body" ? COLOURS[joint] : part === "face" ? "255,255,255" : "0,0,255";
        add("circle", {cx: at[0], cy: at[1], r: part === "body" ? radius : radius / 2, fill: `rgb(${colour})`,
          "data-part": part, "data-person": number, "data-joint": joint, class: "pose-point"}, group);
      }
    }
  });
  const people = value.people.length;
  hint.textContent = people ? `${people} ${people === 1 ? "person" : "people"}; person ${value.selected ?? 0} selected. ` +
    "Drag a point to move it; click a point to select its person." : "No people: press Add person or import a pose JSON.";
}

function canvasPoint(event) {
  const at = svg.createSVGPoint();
  at.x = event.clientX;
  at.y = event.clientY;
  return at.matrixTransform(svg.getScreenCTM().inverse());
}

svg.addEventListener("pointerdown", (event) => {
  const circle = event.target.closest("circle.pose-point");
  if (!circle) return;
  event.preventDefault();
  svg.setPointerCapture(event.pointerId);
  drag = {part: circle.dataset.part, person: Number(circle.dataset.person), joint: Number(circle.dataset.joint), circle,
    moved: false};
});

svg.addEventListener("pointermove", (event) => {
  if (!drag) return;
  const at = canvasPoint(event);
  drag.circle.setAttribute("cx", at.x);
  drag.circle.setAttribute("cy", at.y);
  drag.moved = true;
});

function finish(event) {
  if (!drag) return;
  const value = JSON.parse(JSON.stringify(pose()));
  value.selected = drag.person;
  if (drag.moved) {
    const at = canvasPoint(event);
    const values = value.people[drag.person][PARTS[drag.part]];
    const clamp = (v, high) => Math.round(Math.min(Math.max(v, 0), high - 1) * 100) / 100;
    values[drag.joint * 3] = clamp(at.x, value.canvas_width);
    values[drag.joint * 3 + 1] = clamp(at.y, value.canvas_height);
  }
  const moved = drag.moved;
  drag = null;
  props.value = value;
  draw();
  if (moved) trigger("posed");
}

svg.addEventListener("pointerup", finish);
svg.addEventListener("pointercancel", () => { drag = null; draw(); });
watch("value", draw);
draw();
